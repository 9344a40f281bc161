"""The staff console: server-rendered Jinja2 pages that work without JavaScript, signed in with a session."""
