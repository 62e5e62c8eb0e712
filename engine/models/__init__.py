"""All tables, importable from one place (Alembic and the services use this)."""

from engine.models.access import AccessRequest, CartItem, RequestItem
from engine.models.audit import AuditEvent
from engine.models.directory import Account, ApiToken, Application, Group, User, group_members
from engine.models.identity import IdentityProvider
from engine.models.jobs import ProvisioningJob
from engine.models.lifecycle import AccessChange, Assignment, GroupApplication, Setting
from engine.models.notices import Notice
from engine.models.provisioning import Incident, ProvisioningLog
from engine.models.scim import ScimToken
from engine.models.security import LoginFailure
from engine.models.sod import SodRule
from engine.models.substitutes import Substitution
from engine.models.sync import SyncOperation, SyncRun
from engine.models.workflow import HumanTask, ProcessInstance, WorkflowVersion

__all__ = [
    "AccessChange",
    "AccessRequest",
    "Account",
    "ApiToken",
    "Application",
    "Assignment",
    "AuditEvent",
    "CartItem",
    "Group",
    "GroupApplication",
    "HumanTask",
    "IdentityProvider",
    "Incident",
    "LoginFailure",
    "Notice",
    "ProcessInstance",
    "ProvisioningJob",
    "ProvisioningLog",
    "RequestItem",
    "ScimToken",
    "Setting",
    "SodRule",
    "Substitution",
    "SyncOperation",
    "SyncRun",
    "User",
    "WorkflowVersion",
    "group_members",
]
