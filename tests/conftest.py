import os

from hypothesis import HealthCheck, settings

# CI and `make test` use the same fixed, derandomized profile: a failure reproduces anywhere.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_sessionfinish(session, exitstatus):
    from tests.unprivileged import remove_made

    remove_made()
