from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from dmops.demo import load_demo


class Command(BaseCommand):
    help = "Migrate, load the demo project and its users, and serve the app on 127.0.0.1:8000."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="Load the demo and stop.")
        parser.add_argument("--addrport", default="127.0.0.1:8000")

    def handle(self, *args, no_serve: bool, addrport: str, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("The demo sets known passwords; run it with DEBUG=1 only.")
        call_command("migrate", interactive=False, verbosity=0)
        project, users = load_demo()
        self.stdout.write(self.style.SUCCESS(f"Demo project: {project.name} (id {project.pk})"))
        self.stdout.write(f"Log in at http://{addrport}/ as:")
        for demo in users:
            role = demo.role or "outsider (on no project)"
            self.stdout.write(f"  {demo.username:<6} password {demo.password:<16} {role}")
        self.stdout.write(f"Database: {settings.DATABASES['default']['NAME']}")
        if settings.CELERY_TASK_ALWAYS_EAGER:
            self.stdout.write("Celery: no broker configured, jobs run in-process.")
        if not no_serve:
            call_command("runserver", addrport, use_reloader=False)
