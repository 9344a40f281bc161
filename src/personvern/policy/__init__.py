"""Policy-as-code: the schema of a company's privacy policy, its loader and the bundled 24 Center policy."""

from personvern.policy.loader import LoadedPolicy, PolicyInvalid, Problem, load_policy, parse_policy
from personvern.policy.schema import Policy

__all__ = ["LoadedPolicy", "Policy", "PolicyInvalid", "Problem", "load_policy", "parse_policy"]
