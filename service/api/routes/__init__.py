"""One router per resource: diagnose, search, diagnoses (the catalogue), triage, health, admin."""
