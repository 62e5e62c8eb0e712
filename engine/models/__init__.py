"""All tables, importable from one place (Alembic and the services use this)."""

from engine.models.access import AccessRequest, CartItem, RequestItem
from engine.models.audit import AuditEvent
from engine.models.directory import Account, ApiToken, Application, Group, User, group_members
from engine.models.jobs import ProvisioningJob
from engine.models.provisioning import Incident, ProvisioningLog
from engine.models.security import LoginFailure
from engine.models.workflow import HumanTask, ProcessInstance, WorkflowVersion

__all__ = [
    "AccessRequest",
    "Account",
    "ApiToken",
    "Application",
    "AuditEvent",
    "CartItem",
    "Group",
    "HumanTask",
    "Incident",
    "LoginFailure",
    "ProcessInstance",
    "ProvisioningJob",
    "ProvisioningLog",
    "RequestItem",
    "User",
    "WorkflowVersion",
    "group_members",
]
