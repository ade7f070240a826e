"""Review cases: escalated checks worked by analysts and officers under four-eyes."""

from compliance_shield.services.cases.service import CaseDetail, CaseFilter, CaseService

__all__ = ["CaseDetail", "CaseFilter", "CaseService"]
