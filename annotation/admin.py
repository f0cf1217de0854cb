"""Admin for the annotation app: read-mostly views for support and audits. Every change of
substance goes through the services (pages, API); the admin only edits free-text provenance."""

from __future__ import annotations

from django.contrib import admin
from django.db import models

from annotation.models import (
    GuidelineVersion,
    ImportJob,
    Item,
    Label,
    PreprocessingRun,
    SchemaVersion,
    Source,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Browse and search; no adding or deleting rows that services own."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ImportJobInline(admin.TabularInline):
    model = ImportJob
    fields = ["file_name", "status", "rows_read", "items_created", "duplicates", "rejected",
              "created_at"]  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Source)
class SourceAdmin(ReadOnlyAdmin):
    list_display = ["name", "project", "format", "licence", "collected_on", "created_at"]
    list_filter = ["format", "licence"]
    search_fields = ["name", "origin_url", "licence_text", "project__name"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_select_related = ["project"]
    readonly_fields = ["project", "format", "options", "licence", "licence_waiver", "created_by",
                       "created_at"]  # fmt: skip
    inlines = [ImportJobInline]


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = ["file_name", "source", "project", "status", "rows_read", "items_created",
                    "duplicates", "rejected", "created_at"]  # fmt: skip
    list_filter = ["status"]
    search_fields = ["file_name", "source__name", "error"]
    list_select_related = ["source", "project"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in ImportJob._meta.fields]


@admin.register(Item)
class ItemAdmin(ReadOnlyAdmin):
    list_display = ["short_text", "source", "position", "is_active", "dropped_by"]
    list_filter = ["is_active"]
    search_fields = ["text", "external_id", "text_hash"]
    list_select_related = ["source"]
    show_full_result_count = False  # COUNT(*) over millions of items on every page is slow
    raw_id_fields = ["project", "source", "import_job"]

    @admin.display(description="text")
    def short_text(self, item: Item) -> str:
        return item.text[:100]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Item._meta.fields]


@admin.register(PreprocessingRun)
class PreprocessingRunAdmin(ReadOnlyAdmin):
    list_display = ["pk", "project", "status", "created_by", "created_at", "finished_at"]
    list_filter = ["status"]
    list_select_related = ["project", "created_by"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in PreprocessingRun._meta.fields]


class LabelInline(admin.TabularInline):
    model = Label
    fields = ["key", "name", "category", "hotkey", "order"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SchemaVersion)
class SchemaVersionAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "project", "task_type", "is_final", "created_at"]
    list_filter = ["task_type", "is_final"]
    list_select_related = ["project"]
    inlines = [LabelInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in SchemaVersion._meta.fields]


@admin.register(GuidelineVersion)
class GuidelineVersionAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "project", "created_by", "created_at"]
    list_select_related = ["project", "created_by"]
    search_fields = ["body", "change_summary"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in GuidelineVersion._meta.fields]
