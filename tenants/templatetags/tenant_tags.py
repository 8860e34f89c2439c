from django import template

register = template.Library()


@register.filter
def label(labels: dict[str, str], key: str) -> str:
    """Return the label for key, or key itself when none is known."""
    return labels.get(key, key)
