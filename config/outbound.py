"""The process's pooled HTTP session for every call to Jira and Atlassian."""

import functools

import requests
from requests.adapters import HTTPAdapter


@functools.cache
def http_session() -> requests.Session:
    """Return this process's shared session; requests pools connections per host."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=64, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # Proxies from the environment are ignored so that calls go where settings say.
    session.trust_env = False
    return session
