"""Patients' and clinics' records: FHIR export, printable reports, data download and erasure."""
