"""Builds the runtime from settings: database engine, master key, policy in force, unit of work and clock."""

from __future__ import annotations

import multiprocessing
import os
import pwd
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from personvern.connectors import Connector
from personvern.connectors.hubspot import DEFAULT_URL as DEFAULT_HUBSPOT_URL
from personvern.connectors.hubspot import HubSpot, HubSpotConfig
from personvern.connectors.hubspot_contacts import HubSpotContacts
from personvern.connectors.linkmobility import DEFAULT_URL, LinkMobility, LinkMobilityConfig
from personvern.connectors.sink import DemoSink
from personvern.connectors.smtp import DEFAULT_PORT as DEFAULT_SMTP_PORT
from personvern.connectors.smtp import Smtp, SmtpConfig
from personvern.connectors.worker import Worker
from personvern.domain.access import Actor, Permission, check_role
from personvern.domain.errors import Forbidden, NotReady, PolicyRejected, invalid
from personvern.domain.outbox import Draw, RetryPolicy
from personvern.policy.lint import check_file, check_text
from personvern.policy.loader import LoadedPolicy, PolicyInvalid, Problem, load_policy, parse_policy
from personvern.services import reconcile, selfservice
from personvern.services.admin import PolicyLoad, checkpoint_audit, load_policy_version, start_audit_chain
from personvern.services.context import Context
from personvern.services.notices import DEFAULT_FORMAT, publish_notices
from personvern.store.checkpoints import FileCheckpoints, checkpoint_file
from personvern.store.crypto import Vault, create_master_key, new_secret, read_master_key
from personvern.store.engine import (
    current_revision,
    database_url,
    head_revision,
    make_engine,
    make_private,
    require_current,
    require_keystore,
    sqlite_path,
    upgrade,
)
from personvern.store.erasure_journal import FileErasureJournal, journal_file
from personvern.store.notice_repo import current_notice_sha256
from personvern.store.rotation import key_state, opening_refusal, store_seed, stored_seed
from personvern.store.uow import (
    SqlUnitOfWorkFactory,
    installed_master_key,
    is_simulation,
    make_simulation_if_empty,
    record_master_key,
    stored_policy_text,
)

DEFAULT_DATABASE_URL = "sqlite:///personvern.db"
DEFAULT_LINKMOBILITY_URL = DEFAULT_URL
DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
HTTP_TIMEOUT = httpx.Timeout(15.0, connect=5.0)  # the worker's lease (connectors/worker.py) allows for it
HOOK_PASSWORD_MIN = 16  # the callbacks are reachable from the internet: a short password is guessed


@dataclass(frozen=True)
class Setting:
    """One setting: its environment variable, its command-line option, and what it means."""

    env: str
    option: str | None
    default: str | None
    help: str


# The one table of settings; the README's table is checked against it by a test.
SETTINGS = (
    Setting(
        "PERSONVERN_DATABASE_URL",
        "--db",
        DEFAULT_DATABASE_URL,
        "database URL: sqlite:///FILE or postgresql+psycopg://USER@HOST/DB",
    ),
    Setting(
        "PERSONVERN_MASTER_KEY_FILE",
        None,
        "beside an SQLite database: FILE.masterkey",
        "the master key file (created by init, mode 0600); required for PostgreSQL",
    ),
    Setting(
        "PERSONVERN_NOW",
        "--now",
        None,
        "pretend the time is this ISO-8601 instant: given to init, the register is a simulation and accepts it "
        "everywhere; a real register accepts it only for previews",
    ),
    Setting("PERSONVERN_ROLE", "--role", "ceo", "the role claimed: ceo, staff, marketing or auditor"),
    Setting(
        "PERSONVERN_ACTOR",
        None,
        None,
        "a label added to the operating-system user in the audit log (os:USER as LABEL); it never replaces it",
    ),
    Setting("PERSONVERN_DEBUG", None, None, "set to 1 to see a traceback on an internal error"),
    Setting(
        "PERSONVERN_LINKMOBILITY_URL",
        None,
        DEFAULT_LINKMOBILITY_URL,
        "LINK Mobility's SMS API base URL for your account (the worker posts to URL/send)",
    ),
    Setting("PERSONVERN_LINKMOBILITY_USER", None, None, "LINK Mobility API user (HTTP Basic auth); SMS wait until set"),
    Setting("PERSONVERN_LINKMOBILITY_PASSWORD", None, None, "LINK Mobility API password"),
    Setting("PERSONVERN_LINKMOBILITY_PLATFORM_ID", None, None, "LINK Mobility platformId (from the vendor)"),
    Setting("PERSONVERN_LINKMOBILITY_PARTNER_ID", None, None, "LINK Mobility platformPartnerId (from the vendor)"),
    Setting(
        "PERSONVERN_LINKMOBILITY_SENDER",
        None,
        None,
        "the SMS sender: 2-11 letters and digits with at least one letter (24Center), or a phone number",
    ),
    Setting(
        "PERSONVERN_LINKMOBILITY_GATE",
        None,
        None,
        "the delivery report gate id; without one no delivery reports are asked for",
    ),
    Setting(
        "PERSONVERN_LINKMOBILITY_HOOK_USER",
        None,
        None,
        "the user LINK Mobility's callbacks (/hooks/linkmobility/…) sign in with (HTTP Basic); unset: they are refused",
    ),
    Setting(
        "PERSONVERN_LINKMOBILITY_HOOK_PASSWORD",
        None,
        None,
        f"the callbacks' password, at least {HOOK_PASSWORD_MIN} characters; unset: the callbacks are refused",
    ),
    Setting("PERSONVERN_HUBSPOT_URL", None, DEFAULT_HUBSPOT_URL, "HubSpot's API base URL"),
    Setting(
        "PERSONVERN_HUBSPOT_TOKEN",
        None,
        None,
        "a HubSpot private app's access token (Bearer); HubSpot rows wait in the outbox until it is set",
    ),
    Setting(
        "PERSONVERN_PUBLIC_URL",
        None,
        DEFAULT_PUBLIC_URL,
        "where people reach the public privacy page (https://… behind a proxy): the base of links in messages",
    ),
    Setting(
        "PERSONVERN_SMTP_HOST",
        None,
        None,
        "the mail server e-mail goes through (codes and answers to people); e-mail waits in the outbox until it and "
        "PERSONVERN_SMTP_FROM are set",
    ),
    Setting(
        "PERSONVERN_SMTP_PORT",
        None,
        str(DEFAULT_SMTP_PORT),
        "the mail server's port: 587 with STARTTLS (required, unless the host is 127.0.0.1 or ::1), 465 for TLS",
    ),
    Setting("PERSONVERN_SMTP_USER", None, None, "the login at the mail server; unset: no login"),
    Setting("PERSONVERN_SMTP_PASSWORD", None, None, "the mail server login's password"),
    Setting(
        "PERSONVERN_SMTP_FROM",
        None,
        None,
        "the sender of every e-mail: personvern@example.no, or 24 Center <personvern@example.no>",
    ),
    Setting(
        "PERSONVERN_DEMO_SINK",
        None,
        None,
        "set to 1 for a demo (make run does): SMS and e-mail whose vendor has no credentials go to the console's "
        "Demo messages page instead of waiting; never used where credentials are set",
    ),
    Setting(
        "PERSONVERN_HUBSPOT_CONSENT_PROPERTY",
        None,
        None,
        "a contact property created in HubSpot (e.g. personvern_consent_url) that receives each person's consent "
        "link for the marketing e-mail templates; unset: no link is sent",
    ),
    Setting(
        "PERSONVERN_OUTBOX_MAX_ATTEMPTS",
        None,
        str(DEFAULT_MAX_ATTEMPTS),
        "failed attempts before an outbox row is dead (`outbox list --dead`, `outbox retry ID`)",
    ),
)


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def parse_instant(text: str, field: str = "now") -> datetime:
    """An ISO-8601 date or date-time; without a zone it is read as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(field, "must be an ISO-8601 date or time, e.g. 2026-05-04 or 2026-05-04T10:00:00+02:00") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass(frozen=True)
class Settings:
    database_url: str
    master_key_file: Path | None  # None: a server database with no key file named
    now: datetime | None
    role: str
    actor: str

    def key_file(self) -> Path:
        if self.master_key_file is None:
            raise NotReady("set PERSONVERN_MASTER_KEY_FILE to the master key file for this database")
        return self.master_key_file

    @classmethod
    def resolve(
        cls,
        db: str | None = None,
        now: str | None = None,
        role: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        env = os.environ if environ is None else environ
        url = database_url(db or env.get("PERSONVERN_DATABASE_URL") or DEFAULT_DATABASE_URL)
        chosen_role = role or env.get("PERSONVERN_ROLE") or "ceo"
        check_role(chosen_role)
        instant = now or env.get("PERSONVERN_NOW")
        label = env.get("PERSONVERN_ACTOR") or None
        if label is not None and not 0 < len(label) <= 40:
            raise invalid("PERSONVERN_ACTOR", "must be 1 to 40 characters (it is recorded in the audit log)")
        actor = f"os:{_os_user()}" + (f" as {label}" if label else "")
        return cls(
            database_url=url,
            master_key_file=_master_key_path(url, env),
            now=parse_instant(instant) if instant else None,
            role=chosen_role,
            actor=actor,
        )


def _os_user() -> str:
    """Who runs the process, by its effective uid: LOGNAME and USER are whatever the caller sets.

    The command line trusts whoever holds the key file and the database (they are the CEO); what it can
    record truthfully is the operating-system account, beside the role claimed.
    """
    try:
        return pwd.getpwuid(os.geteuid()).pw_name[:50]
    except KeyError:
        return f"uid{os.geteuid()}"


def _master_key_path(url: str, env: Mapping[str, str]) -> Path | None:
    explicit = env.get("PERSONVERN_MASTER_KEY_FILE")
    if explicit:
        return Path(explicit)
    db_file = sqlite_path(url)
    if db_file is None:
        # A server database has no "beside": guessing a path would scatter keys across machines.
        return None
    return db_file.with_name(db_file.name + ".masterkey")


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    policy: LoadedPolicy
    uow: SqlUnitOfWorkFactory
    clock: FixedClock | SystemClock
    # Initialised with --now: the clock may be moved for anything. A real register (False) takes a moved
    # clock for previews only, and its audit chain's times never run backwards.
    simulation: bool = False
    _pool: ProcessPoolExecutor | None = field(default=None, repr=False)
    _notice: str | None = field(default=None, repr=False)

    @property
    def actor(self) -> Actor:
        return Actor(self.settings.actor, self.settings.role)

    def context(self, parallel: bool = False) -> Context:
        """The services' context; `parallel` spreads CPU-bound batches over worker processes."""
        if parallel and self._pool is None and (os.cpu_count() or 1) > 1:
            # fork: workers start at once and inherit the loaded modules; they touch no connection.
            self._pool = ProcessPoolExecutor((os.cpu_count() or 2) - 1, mp_context=multiprocessing.get_context("fork"))
        if parallel and self._pool is not None:
            pool = self._pool

            def spread(fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
                return pool.map(fn, items)

            return Context(
                self.policy.policy,
                self.uow,
                self.clock,
                self.actor,
                spread,
                self.policy.sha256,
                self.notice_sha256(),
                public_url(),
                self.uow.vault.link_key,
                erasures=self.erasure_journal,
            )
        return Context(
            self.policy.policy,
            self.uow,
            self.clock,
            self.actor,
            policy_sha256=self.policy.sha256,
            notice_sha256=self.notice_sha256(),
            public_url=public_url(),
            link_key=self.uow.vault.link_key,
            erasures=self.erasure_journal,
        )

    @property
    def checkpoints(self) -> FileCheckpoints:
        """The audit chain's signed checkpoints, in a file beside the master key."""
        return FileCheckpoints(checkpoint_file(self.settings.key_file()), self.uow.vault.checkpoint_key)

    @property
    def erasure_journal(self) -> FileErasureJournal:
        """Every erasure's ids and time, in a file beside the master key: what a restore erases again."""
        return FileErasureJournal(journal_file(self.settings.key_file()), self.uow.vault.backup_key)

    @property
    def clock_moved(self) -> bool:
        """--now on a real register: every unit of work is a preview, refused anything but reads and audit entries."""
        return self.uow.real_now is not None

    def present(self) -> Context:
        """The services' context at the real time, changes allowed: upkeep a preview on a real register needs first."""
        uow = SqlUnitOfWorkFactory(self.engine, self.uow.vault, self.policy.policy)
        return Context(
            self.policy.policy,
            uow,
            SystemClock(),
            self.actor,
            policy_sha256=self.policy.sha256,
            notice_sha256=self.notice_sha256(),
            link_key=self.uow.vault.link_key,
            erasures=self.erasure_journal,
        )

    def notice_sha256(self) -> str:
        """The notice published for the policy in force (its first language, Markdown): what consent refers to."""
        if self._notice is None:
            language = self.policy.policy.languages[0]
            self._notice = current_notice_sha256(self.engine, self.policy.sha256, language, DEFAULT_FORMAT) or ""
        return self._notice

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        self.engine.dispose()


def public_url(environ: Mapping[str, str] | None = None) -> str:
    """The public page's base URL, without a trailing slash; refused unless http(s) with a host and no path."""
    raw = (environ if environ is not None else os.environ).get("PERSONVERN_PUBLIC_URL") or DEFAULT_PUBLIC_URL
    parsed = urlsplit(raw.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path not in ("", "/") or parsed.query:
        raise invalid(
            "PERSONVERN_PUBLIC_URL", "must be an http:// or https:// address with no path, e.g. https://24center.no"
        )
    return f"{parsed.scheme}://{parsed.netloc}"


def _clock(settings: Settings) -> FixedClock | SystemClock:
    return FixedClock(settings.now) if settings.now else SystemClock()


def clock_for(settings: Settings) -> FixedClock | SystemClock:
    """The clock the settings give (--now, or the system's), for a command that opens no register."""
    return _clock(settings)


def _runtime(settings: Settings, engine: Engine, vault: Vault, loaded: LoadedPolicy) -> Runtime:
    """The runtime; on a real register with a moved clock every unit of work is a preview (store/preview.py)."""
    simulation = is_simulation(engine)
    real_now = SystemClock().now if settings.now is not None and not simulation else None
    uow = SqlUnitOfWorkFactory(engine, vault, loaded.policy, real_now)
    return Runtime(settings, engine, loaded, uow, _clock(settings), simulation)


def _vault(settings: Settings, engine: Engine) -> Vault:
    state = key_state(engine)
    installed = state.installed
    if installed is None:
        raise NotReady(f"the database at {settings.database_url} is not initialised; run `personvern init`")
    key_file = settings.key_file()
    vault = Vault(read_master_key(key_file))
    refusal = opening_refusal(state, key_file, vault)  # a master-key rotation under way or not finished
    if refusal is not None:
        raise refusal
    if vault.key_id != installed:
        raise NotReady(
            f"the master key in {settings.master_key_file} (id {vault.key_id}) is not the one this database "
            f"was initialised with (id {installed}); use that key file"
        )
    seed = stored_seed(engine, vault)
    return vault if seed is None else vault.with_seed(seed)


def open_runtime(settings: Settings) -> Runtime:
    """Open an initialised database with the policy in force in it."""
    engine = make_engine(settings.database_url)
    try:
        require_current(engine, settings.database_url)
        text = stored_policy_text(engine)
        if text is None:
            raise NotReady("no policy is loaded; run `personvern init`")
        vault = _vault(settings, engine)
    except OperationalError as exc:
        engine.dispose()
        raise NotReady(f"cannot open the database: {exc.orig}") from None
    except Exception:
        engine.dispose()
        raise
    loaded = parse_policy(text, "policy in force")
    return _runtime(settings, engine, vault, loaded)


@dataclass(frozen=True)
class InitReport:
    database_url: str
    master_key_file: Path | None
    key_created: bool
    revision_before: str | None
    revision: str
    policy: PolicyLoad
    notice_sha256: str = ""  # the privacy notice in force, as published now
    warnings: tuple[Problem, ...] = ()  # the lint's warnings on the policy loaded (`policy check` says the same)


def checked_policy(policy_file: str | None) -> tuple[LoadedPolicy, tuple[Problem, ...]]:
    """The policy to load, linted as `policy check` lints it: an error refuses it, warnings come back to be told.

    What the notice must say (Art. 13, 14) is checked before the policy governs a register, not after.
    """
    try:
        if policy_file is None:
            bundled = load_policy(None)
            result = check_text(bundled.text, bundled.source)
        else:
            result = check_file(policy_file)
    except PolicyInvalid as exc:
        raise PolicyRejected(str(exc)) from None
    if result.errors or result.loaded is None:
        raise PolicyRejected(
            "\n".join(["the policy file has problems (nothing was loaded):", *(f"  {p}" for p in result.problems)])
        )
    return result.loaded, tuple(result.warnings)


def initialise(settings: Settings, policy_file: str | None = None, demo: bool = False) -> tuple[Runtime, InitReport]:
    """Create or upgrade the database, create the master key if there is none, and load the policy.

    A database initialised with --now is a simulation register for good; without, a real one. `demo`: the
    register will hold synthetic people, so one that holds nobody yet becomes a simulation too. The policy is
    linted first: one with errors is refused, its warnings are in the report.
    """
    loaded, warnings = checked_policy(policy_file)
    Actor(settings.actor, settings.role).require(Permission.POLICY_MANAGE)
    engine = make_engine(settings.database_url, must_exist=False)
    try:
        key_file = settings.key_file()
        try:
            before, after = upgrade(engine)
        except DBAPIError as exc:
            if isinstance(exc, OperationalError):
                raise
            # A migration that fails (a table already there, a constraint the data breaks) is rolled back
            # whole on PostgreSQL: say where the database stands instead of an internal error.
            raise NotReady(
                f"upgrading the database to migration {head_revision(engine)} failed and was rolled back; it "
                f"stays at {current_revision(engine)}: {exc.orig}. Restore the last backup or fix the cause, "
                "then run `personvern init` again (README: Upgrading)"
            ) from None
        require_keystore(engine, settings.database_url)  # at the head already, but FILE.keys lost: say so
        installed = installed_master_key(engine)
        created = not key_file.exists()
        if created and installed is not None:
            # Never make a new key for a database that has one: it would open nothing, and hide the loss.
            raise NotReady(
                f"this database was initialised with master key id {installed}, but {key_file} does not exist; "
                "restore that key file"
            )
        if created:
            create_master_key(key_file)
        if installed is None:
            master = Vault(read_master_key(key_file))
            record_master_key(engine, master.key_id, _clock(settings).now(), demo or settings.now is not None)
            # A derivation secret of its own from the first day: a master key rotated away and leaked later
            # then opens no blind index, chain or link of this register (store/rotation.py).
            with engine.begin() as conn:
                store_seed(conn, master, new_secret(), _clock(settings).now())
        elif demo:
            make_simulation_if_empty(engine)
        db_file = sqlite_path(settings.database_url)
        if db_file is not None:
            make_private(db_file)
        vault = _vault(settings, engine)
    except OperationalError as exc:
        engine.dispose()
        raise NotReady(f"cannot open the database: {exc.orig}") from None
    except Exception:
        engine.dispose()
        raise
    runtime = _runtime(settings, engine, vault, loaded)
    # Now that the master key is at hand: key the audit chain (a new register from its first entry, one
    # upgraded from an unkeyed chain from an `audit.keyed` entry); its head is checkpointed below.
    start_audit_chain(runtime.uow, runtime.clock, runtime.actor, simulation=runtime.simulation)
    load = load_policy_version(runtime.uow, runtime.clock, runtime.actor, loaded)
    checkpoint_audit(runtime.uow, runtime.checkpoints, runtime.clock, timedelta(0))
    # Every rendering of the notice is stored with the policy, so the version a consent names stays readable.
    publish_notices(runtime.context())
    runtime._notice = None  # read again: it may have been published just now
    notice = runtime.notice_sha256()
    return runtime, InitReport(
        settings.database_url, settings.master_key_file, created, before, after, load, notice, warnings
    )


# ---------------------------------------------------------------- connectors and the outbox worker


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def link_mobility_config(environ: Mapping[str, str] | None = None) -> LinkMobilityConfig:
    env = _env(environ)
    return LinkMobilityConfig(
        url=env.get("PERSONVERN_LINKMOBILITY_URL") or DEFAULT_LINKMOBILITY_URL,
        user=env.get("PERSONVERN_LINKMOBILITY_USER") or None,
        password=env.get("PERSONVERN_LINKMOBILITY_PASSWORD") or None,
        platform_id=env.get("PERSONVERN_LINKMOBILITY_PLATFORM_ID") or None,
        partner_id=env.get("PERSONVERN_LINKMOBILITY_PARTNER_ID") or None,
        sender=env.get("PERSONVERN_LINKMOBILITY_SENDER") or None,
        gate=env.get("PERSONVERN_LINKMOBILITY_GATE") or None,
    )


@dataclass(frozen=True)
class HookCredentials:
    """What LINK Mobility's callbacks must present (HTTP Basic), or why none are accepted."""

    user: str
    password: str
    missing: str | None = None  # why the callbacks are refused whatever they send; None: the settings are good


def link_mobility_hook(environ: Mapping[str, str] | None = None) -> HookCredentials:
    """The callbacks' credentials from the settings; refused unless both are set and the password is long."""
    env = _env(environ)
    user = env.get("PERSONVERN_LINKMOBILITY_HOOK_USER") or ""
    password = env.get("PERSONVERN_LINKMOBILITY_HOOK_PASSWORD") or ""
    unset = [
        name
        for name, value in (
            ("PERSONVERN_LINKMOBILITY_HOOK_USER", user),
            ("PERSONVERN_LINKMOBILITY_HOOK_PASSWORD", password),
        )
        if not value
    ]
    if unset:
        missing = (
            f"the callbacks take no credentials until {' and '.join(unset)} {'is' if len(unset) == 1 else 'are'} set"
        )
    elif len(password) < HOOK_PASSWORD_MIN:
        missing = (
            f"PERSONVERN_LINKMOBILITY_HOOK_PASSWORD is shorter than {HOOK_PASSWORD_MIN} characters; set a longer one"
        )
    else:
        missing = None
    return HookCredentials(user, password, missing)


def hubspot_config(environ: Mapping[str, str] | None = None) -> HubSpotConfig:
    env = _env(environ)
    return HubSpotConfig(
        url=env.get("PERSONVERN_HUBSPOT_URL") or DEFAULT_HUBSPOT_URL,
        token=env.get("PERSONVERN_HUBSPOT_TOKEN") or None,
        consent_property=env.get("PERSONVERN_HUBSPOT_CONSENT_PROPERTY") or None,
    )


def retry_policy(environ: Mapping[str, str] | None = None) -> RetryPolicy:
    raw = _env(environ).get("PERSONVERN_OUTBOX_MAX_ATTEMPTS") or str(DEFAULT_MAX_ATTEMPTS)
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    if not raw.strip().isdecimal() or len(raw.strip()) > 3 or not 1 <= int(raw) <= 100:
        raise invalid("PERSONVERN_OUTBOX_MAX_ATTEMPTS", "must be a whole number from 1 to 100")
    return RetryPolicy(max_attempts=int(raw))


def http_client() -> httpx.Client:
    """The client every connector shares; tests pass their own (`httpx.MockTransport`) instead."""
    return httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False)


def smtp_config(environ: Mapping[str, str] | None = None) -> SmtpConfig:
    env = _env(environ)
    raw = (env.get("PERSONVERN_SMTP_PORT") or str(DEFAULT_SMTP_PORT)).strip()
    # None: the rows wait and say why.
    port = int(raw) if raw.isdecimal() and len(raw) <= 5 and 1 <= int(raw) <= 65535 else None
    return SmtpConfig(
        host=env.get("PERSONVERN_SMTP_HOST") or None,
        port=port,
        user=env.get("PERSONVERN_SMTP_USER") or None,
        password=env.get("PERSONVERN_SMTP_PASSWORD") or None,
        sender=env.get("PERSONVERN_SMTP_FROM") or None,
    )


def demo_sink_on(environ: Mapping[str, str] | None = None) -> bool:
    """PERSONVERN_DEMO_SINK is set to a true value (1, true, yes, on)."""
    return (_env(environ).get("PERSONVERN_DEMO_SINK") or "").strip().lower() in {"1", "true", "yes", "on"}


def demo_sink_kinds(environ: Mapping[str, str] | None = None) -> list[str]:
    """The kinds the demo sink takes: with the setting on, those whose vendor has no credentials."""
    if not demo_sink_on(environ):
        return []
    unset = {"sms": link_mobility_config(environ).missing(), "email": smtp_config(environ).missing()}
    return [kind for kind, missing in unset.items() if missing]


def build_connectors(
    runtime: Runtime, client: httpx.Client, environ: Mapping[str, str] | None = None
) -> dict[str, Connector]:
    """One connector per outbox kind. One without credentials still exists: its rows wait, visibly (or, in a
    demo, go to the demo sink)."""
    connectors: dict[str, Connector] = {
        "sms": LinkMobility(client, link_mobility_config(environ), runtime.clock),
        "email": Smtp(smtp_config(environ), runtime.clock),
    }
    for kind in demo_sink_kinds(environ):
        connectors[kind] = DemoSink(runtime.context(), kind)
    ctx = runtime.context()
    hubspot = HubSpot(client, hubspot_config(environ), runtime.clock, lambda sid: selfservice.link_for(ctx, sid))
    for kind in hubspot.kinds:  # one client for the three kinds: they share HubSpot's rate-limit windows
        connectors[kind] = hubspot
    return connectors


def hubspot_contacts(
    runtime: Runtime, client: httpx.Client, environ: Mapping[str, str] | None = None
) -> HubSpotContacts | None:
    """HubSpot's contacts for a reconciliation; None without a token (HubSpot's outbox rows say so already)."""
    config = hubspot_config(environ)
    return None if config.missing() else HubSpotContacts(client, config, runtime.clock)


def build_worker(
    runtime: Runtime,
    client: httpx.Client,
    environ: Mapping[str, str] | None = None,
    draw: Draw | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> Worker:
    connectors = build_connectors(runtime, client, environ)
    policy = retry_policy(environ)
    checkpoints = runtime.checkpoints
    ctx = runtime.context()

    def reconcile_daily() -> str | None:
        try:
            return reconcile.daily(ctx, lambda: hubspot_contacts(runtime, client, environ))
        except Forbidden:
            return None  # a role that may not reconcile runs the worker: the CEO's run does it

    duties: dict[str, Any] = {"retention": True, "checkpoints": checkpoints, "stopping": stopping}
    duties["reconcile"] = reconcile_daily
    if draw is None:
        return Worker(ctx, connectors, policy, **duties)
    return Worker(ctx, connectors, policy, draw, **duties)
