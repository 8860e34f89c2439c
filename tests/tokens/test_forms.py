import pytest

from tests import factories
from tokens.forms import AccessTokenForm
from tokens.models import RenewalRate

VALID = {
    "name": "Jira Sales 2",
    "flavour": "cloud",
    "portal_url": "https://acme.atlassian.net/",
    "consumer_key": "AbC123xyz",
    "consumer_secret": "s3cr3t-VALUE_x",
    "callback_url": "https://manage.example.com/tokens/oauth/callback/",
    "description": "Line one\nLine two",
    "access_token": "",
    "renewal_rate": "60",
}


def _form(tenant, application=None, instance=None, **changes):
    data = {**VALID, **changes}
    return AccessTokenForm(data, tenant=tenant, application=application, instance=instance)


def test_valid_form_normalises_values(tenant):
    form = _form(tenant)

    assert form.is_valid(), form.errors
    fields = form.to_fields()
    assert fields.portal_url == "https://acme.atlassian.net"
    assert fields.renewal_rate == 60
    assert fields.description == "Line one\nLine two"
    assert fields.access_token is None


def test_renewal_rate_defaults_to_every_hour(tenant):
    form = AccessTokenForm(tenant=tenant, application=None)

    assert form["renewal_rate"].value() == RenewalRate.EVERY_HOUR


@pytest.mark.parametrize("rate", ["0", "15", "30", "60"])
def test_renewal_rate_accepts_each_choice(tenant, rate):
    form = _form(tenant, renewal_rate=rate)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["renewal_rate"] == int(rate)


@pytest.mark.parametrize("rate", ["5", "120", "hourly", ""])
def test_renewal_rate_rejects_other_values(tenant, rate):
    form = _form(tenant, renewal_rate=rate)

    assert not form.is_valid()
    assert "renewal_rate" in form.errors


@pytest.mark.parametrize("name", ["Jira", "Jira Sales 2", "A1", "x" * 100])
def test_name_accepts_letters_numbers_spaces(tenant, name):
    assert _form(tenant, name=name).is_valid()


@pytest.mark.parametrize(
    "name, message",
    [
        ("Jira-Sales", "letters, numbers and single spaces"),
        ("Jira_1", "letters, numbers and single spaces"),
        ("Jira  Sales", "letters, numbers and single spaces"),
        ("Jíra", "letters, numbers and single spaces"),
        ("", "This field is required"),
        ("x" * 101, "at most 100 characters"),
    ],
)
def test_name_rejects_other_characters(tenant, name, message):
    form = _form(tenant, name=name)

    assert not form.is_valid()
    assert message in form.errors["name"][0]


def test_name_must_be_unique_among_global_tokens(tenant):
    factories.make_token(tenant, name="Jira Sales")

    form = _form(tenant, name="jira sales")

    assert not form.is_valid()
    assert "already used by another token of the global tokens" in form.errors["name"][0]


def test_name_may_repeat_in_another_scope_or_tenant(tenant, outsider):
    factories.make_token(tenant, name="Jira Sales")
    application = factories.make_application(tenant)
    other_tenant = outsider.memberships.get().tenant

    assert _form(tenant, application=application, name="Jira Sales").is_valid()
    assert _form(other_tenant, name="Jira Sales").is_valid()


def test_name_unique_within_application(tenant):
    application = factories.make_application(tenant)
    factories.make_token(tenant, application=application, name="Orders Jira")

    form = _form(tenant, application=application, name="Orders Jira")

    assert not form.is_valid()
    assert "already used by another token of this application" in form.errors["name"][0]


def test_editing_keeps_own_name(tenant):
    token = factories.make_token(tenant, name="Jira Sales")

    assert _form(tenant, instance=token, name="Jira Sales", consumer_secret="").is_valid()


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://acme.atlassian.net", "must start with https://"),
        ("ftp://acme.atlassian.net", "must start with https://"),
        ("not a url", "Enter a valid URL"),
        ("https://user:pw@acme.atlassian.net", "Remove the user name and password"),
        ("https://acme.atlassian.net/?x=1", "has a query or fragment"),
        ("", "This field is required"),
    ],
)
def test_portal_url_rejects_bad_values(tenant, url, message):
    form = _form(tenant, portal_url=url)

    assert not form.is_valid()
    assert message in form.errors["portal_url"][0]


def test_portal_url_allows_http_only_when_enabled(tenant, settings):
    settings.JIRA_ALLOW_HTTP = True
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1:8080"]

    assert _form(tenant, portal_url="http://127.0.0.1:8080/jira").is_valid()


@pytest.mark.parametrize("key", ["abc", "ABC123", "a.b-c_d"])
def test_consumer_key_accepts_client_ids(tenant, key):
    assert _form(tenant, consumer_key=key).is_valid()


@pytest.mark.parametrize("key", ["abc def", "abc/def", "ключ", ""])
def test_consumer_key_rejects_other_characters(tenant, key):
    form = _form(tenant, consumer_key=key)

    assert not form.is_valid()
    assert "consumer_key" in form.errors


def test_consumer_secret_required_when_none_stored(tenant):
    form = _form(tenant, consumer_secret="")

    assert not form.is_valid()
    assert "This field is required" in form.errors["consumer_secret"][0]


def test_consumer_secret_blank_keeps_stored_value(tenant):
    token = factories.make_token(tenant, consumer_secret="stored-secret")

    form = _form(tenant, instance=token, name=token.name, consumer_secret="")

    assert form.is_valid(), form.errors
    assert form.to_fields().consumer_secret is None


@pytest.mark.parametrize("secret", ["has space", "tab\there", "naïve"])
def test_consumer_secret_rejects_whitespace_and_non_ascii(tenant, secret):
    form = _form(tenant, consumer_secret=secret)

    assert not form.is_valid()
    assert "plain ASCII" in form.errors["consumer_secret"][0]


@pytest.mark.parametrize(
    "url", ["/relative/callback", "https://example.com/cb#frag", "javascript:alert(1)"]
)
def test_callback_url_rejects_non_absolute_values(tenant, url):
    form = _form(tenant, callback_url=url)

    assert not form.is_valid()
    assert "callback_url" in form.errors


def test_description_limited_to_2000_characters(tenant):
    assert _form(tenant, description="x" * 2000).is_valid()
    form = _form(tenant, description="x" * 2001)
    assert not form.is_valid()
    assert "at most 2000 characters" in form.errors["description"][0]


def test_access_token_may_be_pasted(tenant):
    form = _form(tenant, access_token="eyJhbGciOi.pasted.token")

    assert form.is_valid(), form.errors
    assert form.to_fields().access_token == "eyJhbGciOi.pasted.token"


def test_access_token_rejects_spaces(tenant):
    form = _form(tenant, access_token="Bearer abc")

    assert not form.is_valid()
    assert "paste the token alone" in form.errors["access_token"][0]


def test_rendered_form_never_contains_stored_secrets(tenant):
    token = factories.make_token(
        tenant, consumer_secret="hidden-consumer-secret", access_token="hidden-access-token"
    )

    html = AccessTokenForm(tenant=tenant, application=None, instance=token).as_div()

    assert "hidden-consumer-secret" not in html
    assert "hidden-access-token" not in html
    assert "A value is set. Leave blank to keep it." in html


def test_typed_secret_asks_to_retype_on_error(tenant):
    form = _form(tenant, portal_url="not a url", consumer_secret="s3cret-typed")

    rendered = str(form["consumer_secret"])

    assert not form.is_valid()
    assert "Type the value again" in rendered
    assert "s3cret-typed" not in rendered
