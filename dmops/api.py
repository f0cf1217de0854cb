"""REST API for projects, members and the step board. Same services, same rules as the UI."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from dmops import selectors, services
from dmops.models import Membership, Project, StepEvent


class IsProjectMember(permissions.BasePermission):
    """The user belongs to the project in the URL (403 otherwise; 404 if it does not exist)."""

    message = "You are not a member of this project."

    def has_permission(self, request, view) -> bool:
        project, role = selectors.project_for_member(request.user, view.kwargs["project_id"])
        view.project, view.role = project, role
        return True


class IsProjectManagerOrReadOnly(permissions.BasePermission):
    message = "Only a project manager can change this."

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return view.role == Membership.Role.MANAGER


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "goal_business_need",
            "goal_intended_use",
            "goal_target_size",
            "goal_success_metric",
            "goal_deadline",
            "created_at",
            "updated_at",
            "completed_at",
            "role",
        ]
        read_only_fields = ["id", "created_at", "updated_at", "completed_at", "role"]

    def get_role(self, project: Project) -> str | None:
        return project.role_of(self.context["request"].user)


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    user_id = serializers.IntegerField(source="user.pk", read_only=True)

    class Meta:
        model = Membership
        fields = ["user_id", "username", "role", "created_at"]
        read_only_fields = ["user_id", "created_at"]


class CheckSerializer(serializers.Serializer):
    key = serializers.CharField(source="check.key")
    label = serializers.CharField(source="check.label")
    passed = serializers.BooleanField()
    detail = serializers.CharField(source="result.detail")


class StepEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None)
    step = serializers.IntegerField(source="step.key")

    class Meta:
        model = StepEvent
        fields = ["step", "kind", "actor", "note", "affected_steps", "created_at"]


class StepCardSerializer(serializers.Serializer):
    key = serializers.IntegerField()
    name = serializers.CharField(source="definition.name")
    status = serializers.CharField(source="state.status")
    display_status = serializers.CharField()
    owner = serializers.CharField(source="state.owner.username", default=None)
    due_date = serializers.DateField(source="state.due_date")
    notes = serializers.CharField(source="state.notes")
    skip_reason = serializers.CharField(source="state.skip_reason")
    started_at = serializers.DateTimeField(source="state.started_at")
    signed_off_by = serializers.CharField(source="state.signed_off_by.username", default=None)
    signed_off_at = serializers.DateTimeField(source="state.signed_off_at")
    checks = CheckSerializer(many=True)
    events = StepEventSerializer(many=True)


class TransitionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["start", "sign_off", "skip", "reopen"])
    note = serializers.CharField(required=False, allow_blank=True, default="")


class StepAssignSerializer(serializers.Serializer):
    owner = serializers.CharField(required=False, allow_null=True, help_text="A member's username")
    due_date = serializers.DateField(required=False, allow_null=True)


class ProjectListCreate(generics.ListCreateAPIView):
    serializer_class = ProjectSerializer

    def get_queryset(self):
        return selectors.project_list_for_user(self.request.user)

    def perform_create(self, serializer):
        data = serializer.validated_data
        project = services.project_create(
            name=data["name"], description=data.get("description", ""), created_by=self.request.user
        )
        goal = {k: v for k, v in data.items() if k in services.GOAL_FIELDS}
        if goal:
            services.project_update(project=project, by=self.request.user, **goal)
        serializer.instance = project


class ProjectDetail(generics.RetrieveUpdateAPIView):
    serializer_class = ProjectSerializer
    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectManagerOrReadOnly]
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        return self.project

    def perform_update(self, serializer):
        services.project_update(
            project=self.project, by=self.request.user, **serializer.validated_data
        )


class MemberListCreate(generics.ListCreateAPIView):
    serializer_class = MembershipSerializer
    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectManagerOrReadOnly]
    pagination_class = None

    def get_queryset(self):
        return selectors.member_list(self.project)

    def perform_create(self, serializer):
        serializer.instance = services.member_add(
            project=self.project,
            by=self.request.user,
            username=serializer.validated_data["user"]["username"],
            role=serializer.validated_data["role"],
        )


class MemberDestroy(APIView):
    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectManagerOrReadOnly]

    @extend_schema(responses={204: None})
    def delete(self, request, project_id: int, user_id: int):
        user = get_object_or_404(get_user_model(), pk=user_id)
        services.member_remove(project=self.project, by=request.user, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StepBoard(APIView):
    permission_classes = [permissions.IsAuthenticated, IsProjectMember]

    @extend_schema(responses=StepCardSerializer(many=True))
    def get(self, request, project_id: int):
        cards = selectors.step_board(self.project)
        return Response(StepCardSerializer(cards, many=True).data)


class StepDetail(APIView):
    permission_classes = [permissions.IsAuthenticated, IsProjectMember, IsProjectManagerOrReadOnly]

    @extend_schema(responses=StepCardSerializer)
    def get(self, request, project_id: int, key: int):
        return Response(StepCardSerializer(selectors.step_card(self.project, key)).data)

    @extend_schema(request=StepAssignSerializer, responses=StepCardSerializer)
    def patch(self, request, project_id: int, key: int):
        incoming = StepAssignSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        current = selectors.step_card(self.project, key).state
        owner = current.owner
        if "owner" in incoming.validated_data:
            username = incoming.validated_data["owner"]
            owner = None
            if username:
                owner = get_user_model().objects.filter(username=username).first()
                if owner is None:
                    raise serializers.ValidationError({"owner": f"No user is called {username!r}."})
        due_date = incoming.validated_data.get("due_date", current.due_date)
        services.step_assign(
            project=self.project, key=key, by=request.user, owner=owner, due_date=due_date
        )
        return Response(StepCardSerializer(selectors.step_card(self.project, key)).data)


TRANSITIONS = {
    "start": lambda p, k, u, note: services.step_start(project=p, key=k, by=u, note=note),
    "sign_off": lambda p, k, u, note: services.step_sign_off(project=p, key=k, by=u, note=note),
    "skip": lambda p, k, u, note: services.step_skip(project=p, key=k, by=u, reason=note),
    "reopen": lambda p, k, u, note: services.step_reopen(project=p, key=k, by=u, reason=note),
}


class StepTransition(APIView):
    """POST {"action": "start" | "sign_off" | "skip" | "reopen", "note": "…"}; skip and reopen
    need the note as their reason. Failing gate checks answer 400 with the checks named."""

    permission_classes = [permissions.IsAuthenticated, IsProjectMember]

    @extend_schema(request=TransitionSerializer, responses=StepCardSerializer)
    def post(self, request, project_id: int, key: int):
        incoming = TransitionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        selectors.step_card(self.project, key)  # 404 for a key outside 1..12
        action, note = incoming.validated_data["action"], incoming.validated_data["note"]
        TRANSITIONS[action](self.project, key, request.user, note)
        return Response(StepCardSerializer(selectors.step_card(self.project, key)).data)
