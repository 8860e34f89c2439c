from django.core.management.base import BaseCommand, CommandError

from tokens.keycheck import stored_secrets_problem


class Command(BaseCommand):
    help = "Check that FIELD_ENCRYPTION_KEYS opens every stored secret."

    def handle(self, *args: object, **options: object) -> None:
        problem = stored_secrets_problem()
        if problem:
            raise CommandError(problem)
        self.stdout.write("The configured encryption keys open the stored secrets.")
