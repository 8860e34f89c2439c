from django.urls import reverse

from tests import factories


def test_user_without_tenant_gets_403_not_500(client, db):
    user = factories.make_user("lonely@example.test")
    client.force_login(user)

    response = client.get(reverse("tokens:list"))

    assert response.status_code == 403


def test_api_request_without_session_reads_no_membership(
    client, db, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = client.get("/api/v1/schema/")

    assert response.status_code == 200
