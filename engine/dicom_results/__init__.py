"""An explanation as DICOM objects in the source's study (highdicom): see ``write``."""
