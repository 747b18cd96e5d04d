"""The Mp rules on hand-built evidence, one test per reading of docs/rules.md and
docs/mp-profile.md where the wording leaves room.

The evidence is tests/support/report_samples.py's compliant call seen at the MRF (written by
hand from the flows), changed by the smallest step that shows the reading.
"""

from __future__ import annotations

from mikeyshark.checks.evaluate import Context, evaluate_call
from mikeyshark.dissectors.h248.mp import MpProfile
from mikeyshark.evidence import (
    CallRecord,
    CheckResult,
    MpCommand,
    MpFrame,
    MpObserved,
    MpTransaction,
    Status,
    Verdict,
)
from mikeyshark.procedure import Direction, Protocol
from tests.support.report_samples import (
    MRFC_MP,
    MRFP_MP,
    SEC,
    T0,
    clean_call,
)


def checks(call: CallRecord, ctx: Context | None = None) -> dict[str, CheckResult]:
    return {c.rule: c for c in evaluate_call(call, ctx or Context())}


def test_without_any_mp_traffic_the_mp_rules_wait_for_a_capture_at_the_mrf() -> None:
    call = clean_call()
    got = checks(call)
    assert got["MP-PRESENT"].status is Status.NOT_OBSERVED
    assert got["MP-PRESENT"].message == (
        "no Mp (H.248) traffic in this capture: the Mp leg is seen beside the MRF"
    )
    assert call.verdict is Verdict.PASS


def test_any_mp_message_makes_a_missing_termination_a_failure() -> None:
    """docs/rules.md: MP-PRESENT counts any Mp message (another UE's termination, the
    MRFP's ServiceChange) as Mp traffic in the capture."""
    call = clean_call(mp=True)
    call.media[0].mp = None
    got = checks(call)
    assert got["MP-PRESENT"].status is Status.FAIL
    assert "10.0.0.5:43120" in got["MP-PRESENT"].message  # the UE's m-line it should carry
    # the rules that need the termination are not observed, not failed
    for rule in ("MP-PSK", "MP-REMOTE", "MP-ROLE", "MP-REPLY", "MP-CLEARTEXT"):
        assert got[rule].status is Status.NOT_OBSERVED
        assert not got[rule].unseen_leg  # this capture holds Mp: the verdict waits for them
    assert call.verdict is Verdict.FAIL


def test_a_termination_bound_by_its_local_is_judged_by_mp_remote() -> None:
    """Reading 1: one match binds the termination; a wrong Remote is MP-REMOTE's failure."""
    call = clean_call(mp=True)
    t = call.media[0].mp
    assert t is not None and t.configure is not None and t.configure.remote is not None
    t.bound_by = "local"
    t.configure.remote.address = "10.0.0.99"
    t.connection_joined = False  # the connection no longer joins Local and Remote
    got = checks(call)
    assert got["MP-PRESENT"].status is Status.PASS
    assert "Reply's Local" in got["MP-PRESENT"].message
    assert got["MP-REMOTE"].status is Status.FAIL
    assert "c= address 10.0.0.99 (the SDP says 10.0.0.5)" in got["MP-REMOTE"].message
    # what needs the binding to the connection is not observed (docs/rules.md)
    assert got["MP-ROLE"].status is Status.NOT_OBSERVED
    assert got["MP-PSKID"].status is Status.NOT_OBSERVED


def test_dial_out_mp_local_judges_the_reserve_reply() -> None:
    """Reading 2: in dial-out the reserve Reply carries the Local; the configure's Reply
    carries none."""
    call = clean_call(Protocol.MSRP, Direction.DIAL_OUT, mp=True)
    t = call.media[0].mp
    assert t is not None
    reserve, configure = t.commands[0], t.commands[1]
    assert configure.reply_local is None and reserve.reply_local is not None
    reserve.reply_local.port = 2999
    got = checks(call)["MP-LOCAL"]
    assert got.status is Status.FAIL
    assert got.frames == (2, 3)  # the reserve's Reply and the SDP offer it must equal
    assert "m= port 2999 (the SDP says 2855)" in got.message


def test_roles_come_from_the_flow_not_from_who_sends_first() -> None:
    """Reading 3: the MRFC is the side that sends Add/Modify/Subtract; the rules read the
    roles the MRFC gave and what the MRFP then did on the media connection."""
    call = clean_call(Protocol.BFCP, Direction.DIAL_IN, mp=True)
    got = checks(call)["MP-ROLE"]
    assert got.status is Status.PASS
    assert (
        got.message == "Add (frame 2) makes the MRFP a=setup:active and TLS client, and it acted so"
    )
    # told to be the TLS client, the MRFP let the UE send the ClientHello
    media = call.media[0]
    assert media.tls is not None and media.tcp is not None
    media.tls.client = media.tcp.server
    got = checks(call)["MP-ROLE"]
    assert got.status is Status.FAIL
    assert "but the TLS ClientHello came from 10.0.0.5:43120" in got.message


def test_bfcp_tls_client_of_the_key_file_moves_the_mrfps_tls_role() -> None:
    """The key file's [profile] bfcp_tls_client = "offerer": in BFCP dial-in the UE is the
    TLS client, so the MRFP must be told "server"."""
    call = clean_call(Protocol.BFCP, Direction.DIAL_IN, mp=True)
    got = checks(call, Context(bfcp_tls_client="offerer"))["MP-ROLE"]
    assert got.status is Status.FAIL
    assert "it gives TLS role client, not server" in got.message


def test_psk_identity_is_compared_exactly_and_psk_names_by_profile() -> None:
    """Reading 4: a PSK identity is compared exactly (case included)."""
    call = clean_call(mp=True)
    t = call.media[0].mp
    assert t is not None and t.configure is not None
    t.configure.pskid = "MIKEY:01020304:01"
    got = checks(call)["MP-PSKID"]
    assert got.status is Status.FAIL
    assert got.message == (
        "Add (frame 2) gives the PSK identity 'MIKEY:01020304:01', the TLS client sent "
        "'mikey:01020304:01'"
    )
    # renamed items are named in the sentences by the key file's names
    t.configure.psk = None
    ctx = Context(mp=MpProfile().with_overrides({"psk": "tlsbsc/psk"}))
    assert "no PSK (tlsbsc/psk) was given" in checks(call, ctx)["MP-PSK"].message


def test_the_tls_failure_notify_is_reported_with_its_alert() -> None:
    """Reading 5 and MP-REPLY: a Notify of tlsfail is reported with the media evidence; its
    cause is the TLS alert description."""
    call = clean_call(mp=True)
    t = call.media[0].mp
    media = call.media[0]
    assert t is not None and media.tls is not None
    notify = MpCommand(
        "Notify",
        301,
        MRFP_MP,
        9,
        11,
        observed=(MpObserved(9, "tls_fail_event", "mkstls/tlsfail", 20),),
    )
    t.commands.append(notify)
    t.transactions.append(
        MpTransaction(301, "Notify", MRFP_MP, MRFC_MP, 9, 11,
                      [MpFrame(9, T0 + 9 * SEC, True, "request"),
                       MpFrame(11, T0 + 11 * SEC, False, "reply")])
    )  # fmt: skip
    media.tls.alerts = ((7, 20),)
    got = checks(call)["MP-REPLY"]
    assert got.status is Status.PASS  # every transaction, the Notify's included, got its Reply
    assert (
        "the MRFP reported TLS establishment failure in frame 9 (cause 20, bad_record_mac); "
        "the TLS alert bad_record_mac is in frame 7"
    ) in got.message
    assert 9 in got.frames


def test_a_pending_is_not_the_reply() -> None:
    """Reading 6: a Pending neither answers the command nor orders it."""
    call = clean_call(mp=True)
    t = call.media[0].mp
    assert t is not None and t.configure is not None
    add_tx = t.transactions[0]
    # the MRFP answers Pending at once (frame 3), its final Reply after the answer (frame 11)
    add_tx.frames = [
        MpFrame(2, T0 + 2 * SEC, True, "request"),
        MpFrame(3, T0 + 3 * SEC, False, "pending"),
        MpFrame(11, T0 + 11 * SEC, False, "reply"),
    ]
    add_tx.reply_frame = t.configure.reply_frame = 11
    got = checks(call)
    assert got["MP-ORDER"].status is Status.FAIL
    assert "the MRFC's SDP answer (frame 10)" in got["MP-ORDER"].message
    # with no final Reply at all, the Pending does not make one
    add_tx.frames = add_tx.frames[:2]
    add_tx.reply_frame = None
    got = checks(call)
    assert got["MP-REPLY"].status is Status.FAIL
    assert "Add (transaction 101) got no Reply (Pending only: a Pending is not the Reply)" in (
        got["MP-REPLY"].message
    )


def test_an_error_fails_mp_reply_even_when_a_retry_succeeds() -> None:
    call = clean_call(mp=True)
    t = call.media[0].mp
    assert t is not None
    refused = MpTransaction(100, "Add", MRFC_MP, MRFP_MP, 2, 2, error="510 Insufficient resources")
    t.transactions.insert(0, refused)
    got = checks(call)["MP-REPLY"]
    assert got.status is Status.FAIL
    assert got.message == "Add (transaction 100) was answered with Error 510 Insufficient resources"


def test_the_psk_in_the_clear_is_a_warning_and_inside_ipsec_a_pass() -> None:
    call = clean_call(mp=True)
    got = checks(call)["MP-CLEARTEXT"]
    assert got.status is Status.WARNING
    assert got.message.startswith("the PSK (sha256:")
    assert "crossed Mp in the clear (UDP, Add (frame 2))" in got.message
    assert call.verdict is Verdict.PASS
    t = call.media[0].mp
    assert t is not None
    for tx in t.transactions:
        tx.ipsec = True
    assert checks(call)["MP-CLEARTEXT"].status is Status.PASS


def test_bfcp_dial_out_tells_which_command_reserved() -> None:
    call = clean_call(Protocol.BFCP, Direction.DIAL_OUT, mp=True)
    got = checks(call)["MP-BFCP-DIALOUT"]
    assert got.status is Status.INFO
    assert got.message == (
        "the termination was reserved by Add (frame 1) with Local; TR 29.828 specifies no "
        "procedure for this step of BFCP dial-out (7.2.1.3.2 NOTE 1)"
    )
    assert call.verdict is Verdict.PASS
    dial_in = clean_call(Protocol.BFCP, Direction.DIAL_IN, mp=True)
    assert checks(dial_in)["MP-BFCP-DIALOUT"].status is Status.NOT_APPLICABLE


def test_the_psk_is_judged_against_the_ticket_tek_not_against_itself() -> None:
    """A PSK seen on Mp is a candidate like any other: when the handshake proves it but the
    ticket's TEK is another key, MP-PSK and TLS-KEY both fail."""
    call = clean_call(mp=True)
    media, t = call.media[0], call.media[0].mp
    assert media.key is not None and t is not None and t.configure is not None
    other = bytes(range(100, 116))
    t.configure.psk = other
    media.key.tek = other  # the handshake verified with the PSK the MRFC gave
    got = checks(call)
    assert got["MP-PSK"].status is Status.FAIL
    assert got["TLS-KEY"].status is Status.FAIL
    assert "only with the PSK the MRFC gave on Mp" in got["TLS-KEY"].message
    # without a key that opens the ticket, the handshake made both ways with it proves it
    media.key.ticket_teks = ()
    got = checks(call)
    assert got["MP-PSK"].status is Status.PASS
    assert got["TLS-KEY"].status is Status.PASS
    assert "PSK the MRFC gave on Mp" in got["TLS-KEY"].message
