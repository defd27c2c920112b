def test_patients_missing_slides_or_genomics_are_left_out_by_name(caplog) -> None:
    import pandas as pd

    from memamba.data.cohort import complete_patients

    clinical = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4"]})
    slides = pd.DataFrame({"patient_id": ["P1", "P2"], "slide_id": ["s1", "s2"]})
    kept = complete_patients(clinical, slides, {"P1", "P3"})
    assert kept == ["P1"]
    assert "patient P2 has no genomics: left out of training and evaluation" in caplog.text
    assert "patient P3 has no slides: left out of training and evaluation" in caplog.text
    assert "patient P4 has no slides or genomics" in caplog.text
