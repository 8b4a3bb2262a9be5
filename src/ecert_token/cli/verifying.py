"""What ``verify`` and ``scan`` share: the arguments and one verification.

Without a shared replay store (``--replay-db`` or ``--replay-redis``) a
one-shot process cannot know whether a token was used before (a fresh
in-memory store would fence every earlier token), so every check but the
replay mark runs and the output says ``"replay_checked": false``.

Payment confirmation (``--amount --payee --order`` or ``--transaction``): the
terminal's own transaction, which a holder presentation's device-signed
payment binding must cover (``transaction_mismatch`` otherwise,
``confirmation_missing`` without a binding).  Platform codes are confirmed
online (``ecert settle approve|charge``), so these options do not apply to them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..holder.challenge import verify_presentation
from ..holder.payment import Charge
from ..holder.presentation import is_presentation
from ..holder.status_loader import StatusListLoader
from ..holder.verify import PresentationVerifier
from ..keys import keydir
from ..keys.trust_store import TrustStore
from ..model import BusinessType
from ..replay.base import ReplayStore
from ..token import VerifiedToken, Verifier, VerifyPolicy
from .inputs import code_arg, unix_time
from .output import UsageError
from .trust_cmd import add_passphrase_arg, add_trust_source_args, passphrase, trust_store_from_args


def add_verify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keys", help="key directory (or use --trust-list)")
    add_trust_source_args(p)
    p.add_argument("--business", required=True, type=code_arg(BusinessType, "business type"),
                   help="business type being performed (e.g. 01101)")
    store = p.add_mutually_exclusive_group()
    store.add_argument("--replay-db", help="SQLite replay store shared across processes")
    store.add_argument("--replay-redis", help="Redis replay store URL (redis://host:port/0; "
                       "any node of a Redis Cluster)")
    p.add_argument("--now", type=unix_time,
                   help="verification time as Unix seconds (default: now)")
    p.add_argument("--status-list", help="signed status list of holder credentials")
    p.add_argument("--status-state", help="directory persisting the newest status list seen")
    add_passphrase_arg(p)


def add_payment_arguments(p: argparse.ArgumentParser) -> None:
    """The terminal's own transaction (payment confirmation of holder presentations)."""
    p.add_argument("--amount", type=int, help="amount charged, in fen (with --payee, --order)")
    p.add_argument("--payee", help="payee institution code (with --amount, --order)")
    p.add_argument("--order", help="order id (with --amount, --payee)")
    p.add_argument("--transaction", help="the transaction text (ET1:) this terminal showed "
                   "(two-scan flow; from `ecert pay request`)")


def charge_from_args(args: argparse.Namespace) -> Charge | None:
    """The terminal's transaction from ``--transaction`` or ``--amount --payee --order``."""
    given = [getattr(args, n, None) is not None for n in ("amount", "payee", "order")]
    text = getattr(args, "transaction", None)
    if text is not None:
        if any(given):
            raise UsageError("give --transaction or --amount --payee --order, not both")
        return Charge.from_text(text.strip())
    if not any(given):
        return None
    if not all(given):
        raise UsageError("--amount, --payee and --order come together")
    return Charge(args.amount, args.payee, args.order)


def policy_at(now: int | None) -> VerifyPolicy:
    """The default policy, on a clock fixed at ``--now`` when one is given."""
    return VerifyPolicy() if now is None else VerifyPolicy(clock=lambda: now)


def replay_store(args: argparse.Namespace, policy: VerifyPolicy) -> ReplayStore | None:
    """The store named on the command line, or None."""
    lifetime = policy.replay_window
    if args.replay_db:
        from ..replay.sqlite import SqliteReplayStore

        return SqliteReplayStore(Path(args.replay_db), max_lifetime=lifetime, clock=policy.clock,
                                 leeway=policy.leeway)
    if args.replay_redis:
        from ..replay.redis import RedisReplayStore

        return RedisReplayStore.from_url(
            args.replay_redis, max_lifetime=lifetime, clock=policy.clock, leeway=policy.leeway
        )
    return None


def _trust(args: argparse.Namespace, now: int) -> TrustStore:
    """A signed trust list (with provisioned group keys) or a key directory."""
    from_list = trust_store_from_args(args, now)
    if from_list is not None:
        return from_list
    if not args.keys:
        raise UsageError("give --keys DIR or --trust-list FILE --root FILE")
    return keydir.load(Path(args.keys), passphrase(args)).trust_store()


def _presentations(args: argparse.Namespace, trust: TrustStore, policy: VerifyPolicy,
                   token: str) -> PresentationVerifier | None:
    """The holder-presentation checker, with the status list given by ``--status-list``;
    None for a platform code, which never reads the status list (a stale one included)."""
    if not is_presentation(token):
        return None
    status = None
    if getattr(args, "status_list", None):
        state = getattr(args, "status_state", None)
        status = StatusListLoader(trust, Path(state) if state else None, clock=policy.clock)
        status.offer_file(Path(args.status_list))
    return PresentationVerifier(trust, policy, status)


def verify_once(args: argparse.Namespace, token: str,
                charge: Charge | None = None) -> tuple[VerifiedToken, bool]:
    """Verify ``token`` as the arguments say; return the result and whether replay was checked.

    ``charge``: the terminal's transaction, checked against a holder
    presentation's payment binding (ignored for a platform code).
    """
    policy = policy_at(args.now)
    store = replay_store(args, policy)
    trust = _trust(args, policy.clock())
    verifier = Verifier(trust, policy, store,
                        presentations=_presentations(args, trust, policy, token))
    business: BusinessType = args.business
    if charge is not None and is_presentation(token):
        if store is None:
            return verifier.presentations.check(token, business, now=policy.clock(),
                                                charge=charge), False
        return verify_presentation(verifier, token, business, charge=charge), True
    if store is None:
        return verifier.check(token, business, now=policy.clock()), False
    return verifier.verify(token, business), True
