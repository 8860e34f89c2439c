"""Local, stateful stand-in for Atlassian's OAuth 2.0 server and Jira Cloud REST v3.

Run it with ``python -m sandbox``. The package never imports the product and the
product never imports it: tests talk to it over HTTP only.
"""
