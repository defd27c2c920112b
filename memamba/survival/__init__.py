"""Survival analysis: time discretisation, the discrete-time NLL loss, metrics, Kaplan-Meier and log-rank."""
