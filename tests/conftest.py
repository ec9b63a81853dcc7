"""Root test configuration: fixtures that start and clean the real services.

tests.support.env must be imported first: it fixes the environment (fresh database, S3 and fake
WeChat ports) before any backend module reads its settings.
"""

import tests.support.env  # noqa: F401  (side effect: environment)

pytest_plugins = ["tests.support.wechat", "tests.support.services", "tests.support.api", "tests.support.workers"]
