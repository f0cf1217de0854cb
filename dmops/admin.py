from __future__ import annotations

from django.contrib import admin

from dmops.models import Membership, Project, StepEvent, StepState


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "created_by", "created_at", "updated_at", "completed_at"]
    search_fields = ["name", "description"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["project__name", "user__username"]


@admin.register(StepState)
class StepStateAdmin(admin.ModelAdmin):
    # Transitions go through the step board so gate checks and the audit trail apply;
    # the admin shows state but does not change it.
    list_display = ["project", "key", "status", "owner", "due_date", "signed_off_at"]
    list_filter = ["status", "key"]
    readonly_fields = ["status", "started_at", "signed_off_by", "signed_off_at", "skip_reason"]


@admin.register(StepEvent)
class StepEventAdmin(admin.ModelAdmin):
    list_display = ["project", "step", "kind", "actor", "created_at"]
    list_filter = ["kind"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the audit trail is append-only
