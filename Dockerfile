FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_STATIC_ROOT=/app/staticfiles
WORKDIR /app

COPY constraints.txt ./
RUN pip install --no-cache-dir -r constraints.txt

COPY . .
# collectstatic needs settings to load; these build-time values are thrown away.
RUN DJANGO_DEBUG=false DJANGO_SECRET_KEY=build-only \
    FIELD_ENCRYPTION_KEYS=build:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    python manage.py collectstatic --no-input \
    && useradd --system --home /app manage-center

USER manage-center
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--config=config/gunicorn.conf.py"]
