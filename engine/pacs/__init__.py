"""Studies from a PACS and results back to it: DIMSE (pynetdicom) and DICOMweb."""
