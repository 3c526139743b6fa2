"""HTTP routes of the accounts domain: /auth, /me and /admin/users."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from marketplace.accounts import recovery, service, sessions
from marketplace.accounts.schemas import (
    AddressIn,
    AddressOut,
    AddressPatch,
    LoginIn,
    LogoutIn,
    ModerationIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    ProfileUpdate,
    RefreshIn,
    RegisterIn,
    Role,
    RolesIn,
    TokenPair,
    TotpCodeIn,
    TotpEnrolment,
    UserOut,
    VerifyEmailIn,
)
from marketplace.core.auth import AuthedRequest, admin_only, token_family
from marketplace.core.deps import AppState, client_ip
from marketplace.core.paging import Cursor, Limit, Page
from marketplace.core.types import set_fields


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post("/register", exclude_from_auth=True, summary="Create a buyer account")
    async def register(self, request: Request[Any, Any, Any], state: AppState, data: JSONBody[RegisterIn]) -> UserOut:
        return await service.register(state.db, state.redis, state.settings, data, client_ip(request))

    @post("/login", exclude_from_auth=True, status_code=200, summary="Exchange credentials for tokens")
    async def login(self, request: Request[Any, Any, Any], state: AppState, data: JSONBody[LoginIn]) -> TokenPair:
        ip = client_ip(request)
        pair = await service.login(state.db, state.redis, state.settings, data, ip)
        await sessions.record_client(state.db, pair.refresh_token, request.headers.get("user-agent", ""), ip)
        return pair

    @post("/refresh", exclude_from_auth=True, status_code=200, summary="Rotate a refresh token")
    async def refresh(self, state: AppState, data: JSONBody[RefreshIn]) -> TokenPair:
        return await service.refresh(state.db, state.settings, data.refresh_token)

    @post("/logout", status_code=204, summary="End this session: its access and refresh tokens, and open sockets")
    async def logout(self, state: AppState, request: AuthedRequest, data: JSONBody[LogoutIn | None] = None) -> None:
        refresh_token = data.refresh_token if data else None
        await service.logout(state.db, request.user.id, token_family(request.auth), refresh_token)

    @post(
        "/password-reset",
        exclude_from_auth=True,
        status_code=202,
        summary="Mail a password reset link (always 202: it never tells whether the account exists)",
    )
    async def request_password_reset(
        self, request: Request[Any, Any, Any], state: AppState, data: JSONBody[PasswordResetIn]
    ) -> None:
        await recovery.request_reset(state.db, state.redis, state.settings, data.email, client_ip(request))

    @post(
        "/password-reset/confirm",
        exclude_from_auth=True,
        status_code=204,
        summary="Set a new password with the mailed token (single use; every session ends)",
    )
    async def confirm_password_reset(
        self, request: Request[Any, Any, Any], state: AppState, data: JSONBody[PasswordResetConfirmIn]
    ) -> None:
        ip = client_ip(request)
        await recovery.confirm_reset(state.db, state.redis, state.settings, data.token, data.password, ip)

    @post("/verify-email", exclude_from_auth=True, status_code=200, summary="Confirm an email address")
    async def verify_email(
        self, request: Request[Any, Any, Any], state: AppState, data: JSONBody[VerifyEmailIn]
    ) -> UserOut:
        ip = client_ip(request)
        user_id = await recovery.verify_email(state.db, state.redis, state.settings, data.token, ip)
        return await service.get_user(state.db, user_id)

    @post("/verify-email/resend", status_code=202, summary="Mail my verification link again")
    async def resend_verification(self, state: AppState, request: AuthedRequest) -> None:
        await service.resend_verification(state.db, state.redis, state.settings, request.user.id)

    @post("/totp/enrol", summary="Start two-factor enrolment: returns the secret and an otpauth URI")
    async def enrol_totp(self, state: AppState, request: AuthedRequest) -> TotpEnrolment:
        return await service.enrol_totp(state.db, state.redis, state.settings, request.user.id, client_ip(request))

    @post("/totp/confirm", status_code=200, summary="Turn two-factor on with a first valid code")
    async def confirm_totp(self, state: AppState, request: AuthedRequest, data: JSONBody[TotpCodeIn]) -> UserOut:
        user_id, ip = request.user.id, client_ip(request)
        return await service.confirm_totp(state.db, state.redis, state.settings, user_id, data.code, ip)

    @post("/totp/disable", status_code=200, summary="Turn two-factor off (needs a valid code)")
    async def disable_totp(self, state: AppState, request: AuthedRequest, data: JSONBody[TotpCodeIn]) -> UserOut:
        user_id, ip = request.user.id, client_ip(request)
        return await service.disable_totp(state.db, state.redis, state.settings, user_id, data.code, ip)


class MeController(Controller):
    path = "/me"
    tags = ["profile"]

    @get("/", summary="My profile")
    async def profile(self, state: AppState, request: AuthedRequest) -> UserOut:
        return await service.get_user(state.db, request.user.id)

    @patch("/", summary="Change my profile")
    async def update_profile(self, state: AppState, request: AuthedRequest, data: JSONBody[ProfileUpdate]) -> UserOut:
        return await service.update_profile(state.db, request.user.id, set_fields(data).get("display_name"))

    @get("/addresses", summary="My shipping addresses, default first")
    async def addresses(self, state: AppState, request: AuthedRequest) -> list[AddressOut]:
        return await service.list_addresses(state.db, request.user.id)

    @post("/addresses", summary="Add a shipping address (the first one becomes the default)")
    async def add_address(self, state: AppState, request: AuthedRequest, data: JSONBody[AddressIn]) -> AddressOut:
        return await service.add_address(state.db, request.user.id, data)

    @get("/addresses/{address_id:int}")
    async def address(self, state: AppState, request: AuthedRequest, address_id: FromPath[int]) -> AddressOut:
        return await service.get_address(state.db, request.user.id, address_id)

    @patch("/addresses/{address_id:int}", summary="Change an address; is_default=true makes it the default")
    async def update_address(
        self, state: AppState, request: AuthedRequest, address_id: FromPath[int], data: JSONBody[AddressPatch]
    ) -> AddressOut:
        return await service.update_address(state.db, request.user.id, address_id, data)

    @delete("/addresses/{address_id:int}")
    async def delete_address(self, state: AppState, request: AuthedRequest, address_id: FromPath[int]) -> None:
        await service.delete_address(state.db, request.user.id, address_id)


class AdminUsersController(Controller):
    path = "/admin/users"
    tags = ["admin"]
    guards = [admin_only]

    @get("/", summary="List accounts, newest first")
    async def list_users(
        self,
        state: AppState,
        role: FromQuery[Role | None] = None,
        search: Annotated[str | None, QueryParameter(name="q", max_length=100)] = None,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> Page[UserOut]:
        return await service.list_users(state.db, role, search, cursor, limit)

    @get("/{user_id:int}")
    async def get_user(self, state: AppState, user_id: FromPath[int]) -> UserOut:
        return await service.get_user(state.db, user_id)

    @put("/{user_id:int}/roles", summary="Set an account's roles (buyer is always kept)")
    async def set_roles(
        self, state: AppState, request: AuthedRequest, user_id: FromPath[int], data: JSONBody[RolesIn]
    ) -> UserOut:
        return await service.set_roles(state.db, request.user.id, user_id, list(data.roles))

    @post("/{user_id:int}/disable", status_code=200, summary="Disable an account: its sessions and sockets end at once")
    async def disable(
        self, state: AppState, request: AuthedRequest, user_id: FromPath[int], data: JSONBody[ModerationIn]
    ) -> UserOut:
        return await service.set_status(state.db, request.user.id, user_id, "disabled", data.reason)

    @post("/{user_id:int}/enable", status_code=200, summary="Enable a disabled account (its owner signs in again)")
    async def enable(
        self,
        state: AppState,
        request: AuthedRequest,
        user_id: FromPath[int],
        data: JSONBody[ModerationIn | None] = None,
    ) -> UserOut:
        return await service.set_status(state.db, request.user.id, user_id, "active", data.reason if data else None)
