"""REST endpoints for step 6: the roster, invitations, pausing annotators. Same services and the
same visibility as the Team page: annotators get names, roles and statuses only."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Invitation
from annotation.selectors import team as selectors
from annotation.services import team as services
from dmops.api import IsProjectMember
from dmops.models import Membership

STATUS_HELP = " | ".join(selectors.Status.LABELS)


class IsProjectManager(permissions.BasePermission):
    message = "Only a project manager can do this."

    def has_permission(self, request, view) -> bool:
        return view.role == Membership.Role.MANAGER


class IsProjectStaff(permissions.BasePermission):
    """Managers and reviewers: they may see e-mails and invitations."""

    message = "Only managers and reviewers can see this."

    def has_permission(self, request, view) -> bool:
        return view.role in (Membership.Role.MANAGER, Membership.Role.REVIEWER)


class RosterRowSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.CharField(help_text="manager | reviewer | annotator")
    status = serializers.CharField(
        allow_null=True, help_text=f"Annotators only: {STATUS_HELP}; null for other roles."
    )
    paused = serializers.BooleanField()
    email = serializers.CharField(
        allow_null=True, help_text="Null when the caller is an annotator."
    )
    attempts = serializers.IntegerField(allow_null=True, help_text="Training attempts.")
    last_score_correct = serializers.IntegerField(allow_null=True)
    last_score_total = serializers.IntegerField(allow_null=True)
    annotations = serializers.IntegerField(allow_null=True, help_text="Submitted annotations.")
    last_activity = serializers.DateTimeField(allow_null=True)

    DETAILS = (
        "email",
        "attempts",
        "last_score_correct",
        "last_score_total",
        "annotations",
        "last_activity",
    )

    def to_representation(self, row: selectors.RosterRow) -> dict:
        data = {
            "user_id": row.user_id,
            "username": row.username,
            "role": row.role,
            "status": row.status,
            "paused": row.paused,
            "email": row.email,
            "attempts": row.attempts,
            "last_score_correct": row.last_score[0] if row.last_score else None,
            "last_score_total": row.last_score[1] if row.last_score else None,
            "annotations": row.annotations,
            "last_activity": serializers.DateTimeField().to_representation(row.last_activity)
            if row.last_activity
            else None,
        }
        if not self.context.get("details"):
            data.update(dict.fromkeys(self.DETAILS))
        return data


class InvitationSerializer(serializers.ModelSerializer):
    invited_by = serializers.CharField(source="invited_by.username", default=None)
    accept_url = serializers.SerializerMethodField(help_text="The link to send to the invitee.")

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "invited_by", "created_at", "accept_url"]

    def get_accept_url(self, invitation: Invitation) -> str:
        url = reverse("invitation_accept", args=[invitation.token])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class InviteSerializer(serializers.Serializer):
    identifier = serializers.CharField(
        max_length=254, help_text="A username, or an e-mail (an invitation if nobody uses it)."
    )
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class InviteResultSerializer(serializers.Serializer):
    member = RosterRowSerializer(allow_null=True, help_text="Set when an account was added.")
    invitation = InvitationSerializer(
        allow_null=True, help_text="Set when an e-mail without an account was invited."
    )


class AcceptedSerializer(serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id")

    class Meta:
        model = Membership
        fields = ["project", "role", "created_at"]


class Team(APIView):
    """GET the roster (annotators see names, roles and statuses only). POST (managers) invites
    someone by username or e-mail."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember]

    def _details(self) -> bool:
        return self.role in (Membership.Role.MANAGER, Membership.Role.REVIEWER)

    @extend_schema(responses=RosterRowSerializer(many=True))
    def get(self, request, project_id: int):
        rows = selectors.roster(self.project).rows
        context = {"details": self._details()}
        return Response(RosterRowSerializer(rows, many=True, context=context).data)

    @extend_schema(request=InviteSerializer, responses={201: InviteResultSerializer})
    def post(self, request, project_id: int):
        if not IsProjectManager().has_permission(request, self):
            self.permission_denied(request, message=IsProjectManager.message)
        incoming = InviteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        invited = services.member_invite(
            project=self.project, by=request.user, **incoming.validated_data
        )
        body = {"member": None, "invitation": None}
        if isinstance(invited, Invitation):
            body["invitation"] = InvitationSerializer(invited, context={"request": request}).data
        else:
            row = selectors.roster_row(self.project, invited.user_id)
            body["member"] = RosterRowSerializer(row, context={"details": True}).data
        return Response(body, status=status.HTTP_201_CREATED)


class AnnotatorPause(APIView):
    """Pause a member (their open leases are released) or resume them. Managers only."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectManager]
    paused = True

    @extend_schema(request=None, responses=RosterRowSerializer)
    def post(self, request, project_id: int, user_id: int):
        user = get_object_or_404(get_user_model(), pk=user_id)
        services.annotator_pause(
            project=self.project, by=request.user, user=user, paused=self.paused
        )
        row = selectors.roster_row(self.project, user.pk)
        return Response(RosterRowSerializer(row, context={"details": True}).data)


class AnnotatorResume(AnnotatorPause):
    paused = False


class InvitationList(APIView):
    """Pending invitations of the project. Managers and reviewers."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectStaff]

    @extend_schema(responses=InvitationSerializer(many=True))
    def get(self, request, project_id: int):
        invitations = selectors.pending_invitations(self.project)
        context = {"request": request}
        return Response(InvitationSerializer(invitations, many=True, context=context).data)


class InvitationDetail(APIView):
    """DELETE withdraws a pending invitation. Managers only."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectManager]

    @extend_schema(responses={204: None})
    def delete(self, request, project_id: int, invitation_id: int):
        invitation = selectors.invitation_for_manager(self.project, invitation_id)
        services.invitation_revoke(invitation=invitation, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationAccept(APIView):
    """The caller joins the project if their account's e-mail is the invitation's."""

    @extend_schema(request=None, responses={201: AcceptedSerializer})
    def post(self, request, token: str):
        selectors.invitation_by_token(token)
        membership = services.invitation_accept(token=token, user=request.user)
        return Response(AcceptedSerializer(membership).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("projects/<int:project_id>/team/", Team.as_view(), name="api_team"),
    path(
        "projects/<int:project_id>/team/<int:user_id>/pause/",
        AnnotatorPause.as_view(),
        name="api_team_pause",
    ),
    path(
        "projects/<int:project_id>/team/<int:user_id>/resume/",
        AnnotatorResume.as_view(),
        name="api_team_resume",
    ),
    path(
        "projects/<int:project_id>/invitations/",
        InvitationList.as_view(),
        name="api_invitations",
    ),
    path(
        "projects/<int:project_id>/invitations/<int:invitation_id>/",
        InvitationDetail.as_view(),
        name="api_invitation",
    ),
    path(
        "invitations/<str:token>/accept/",
        InvitationAccept.as_view(),
        name="api_invitation_accept",
    ),
]
