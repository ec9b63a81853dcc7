"""Root test configuration: fixtures that start and clean the real services.

Plugins under tests/support provide the session fixtures (fake WeChat server, S3 server, database).
"""

pytest_plugins = ["tests.support.wechat"]
