from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token

from dmops import api, views

api_patterns = [
    path("auth/token/", obtain_auth_token, name="api_token"),
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    path("projects/", api.ProjectListCreate.as_view(), name="api_projects"),
    path("projects/<int:project_id>/", api.ProjectDetail.as_view(), name="api_project"),
    path("projects/<int:project_id>/members/", api.MemberListCreate.as_view(), name="api_members"),
    path(
        "projects/<int:project_id>/members/<int:user_id>/",
        api.MemberDestroy.as_view(),
        name="api_member",
    ),
    path("projects/<int:project_id>/steps/", api.StepBoard.as_view(), name="api_steps"),
    path("projects/<int:project_id>/steps/<int:key>/", api.StepDetail.as_view(), name="api_step"),
    path(
        "projects/<int:project_id>/steps/<int:key>/transitions/",
        api.StepTransition.as_view(),
        name="api_step_transition",
    ),
]

urlpatterns = [
    # The apps that build on the lifecycle add their own pages; named by string so that
    # dmops never imports them. annotation's API comes first: it holds the labelling hot path.
    path("api/", include("annotation.api_urls")),
    path("", views.dashboard, name="dashboard"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("", include("annotation.urls")),
    path("api/", include("evaluation.api_urls")),
    path("", include("evaluation.urls")),
    path("projects/new/", views.project_create, name="project_create"),
    path("projects/<int:project_id>/", views.project_board, name="project_board"),
    path("projects/<int:project_id>/goal/", views.project_goal, name="project_goal"),
    path("projects/<int:project_id>/members/", views.project_members, name="project_members"),
    path(
        "projects/<int:project_id>/members/<int:user_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path(
        "projects/<int:project_id>/steps/<int:key>/transition/",
        views.step_transition,
        name="step_transition",
    ),
    path(
        "projects/<int:project_id>/steps/<int:key>/assign/", views.step_assign, name="step_assign"
    ),
    path("projects/<int:project_id>/steps/<int:key>/notes/", views.step_notes, name="step_notes"),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
