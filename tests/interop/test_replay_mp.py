"""The replay's MRFP does what the Mp leg tells it (docs/mp-profile.md): given an Add with a
Remote, a=setup:active, the TLS role client and a PSK, it connects to that Remote and runs
TLS-PSK as the client with that PSK and identity. The peer is `openssl s_server -psk`, which
accepts only that key; the command is sent by the replay's MRFC end over UDP 2944."""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest

from mikeyshark.dissectors import sdp
from mikeyshark.dissectors.h248 import PORT_TEXT
from mikeyshark.dissectors.h248.model import Command
from mikeyshark.dissectors.h248.mp import DEFAULT_PROFILE, local_control_descriptor
from mikeyshark.keyfile import KeyFile
from mikeyshark.model import Endpoint
from mikeyshark.replay import MrfcMp, MrfpMp, Side, SipSocket
from mikeyshark.synth import mp as mpleg
from mikeyshark.synth.scenarios import AddressPlan, call_specs, make_world, new_call
from tests.support.tls_live import free_port, wait_listening

pytestmark = [pytest.mark.live, pytest.mark.timeout(60)]

# addresses of this test's own (other live runs on the machine use 127.0.0.x)
PLAN = AddressPlan(
    "127.0.83.10",
    "127.0.83.20",
    "127.0.83.30",
    tuple(f"127.0.83.{i}" for i in (11, 12, 13, 14, 66)),
)
PSK = bytes.fromhex("00112233445566778899aabbccddeeff")  # not the call's TEK: only Mp gives it
IDENTITY = "mikey:0badf00d:01"


def test_the_mrfp_connects_where_mp_says_with_the_psk_it_was_given(openssl: str) -> None:
    port = free_port()
    srv = subprocess.Popen(
        [openssl, "s_server", "-nocert", "-accept", f"127.0.0.1:{port}", "-naccept", "1",
         "-quiet", "-psk", PSK.hex(), "-psk_identity", IDENTITY, "-tls1_2",
         "-cipher", "PSK-AES128-GCM-SHA256"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_listening(port, srv)
        live = asyncio.run(_drive(port))
    finally:
        if srv.poll() is None:
            srv.kill()
        srv.wait(timeout=10)
        for f in (srv.stdin, srv.stdout, srv.stderr):
            if f is not None:
                f.close()
    tek, client, server, term = live
    assert tek == PSK  # the key it was given on Mp, not the call's TEK
    assert client.ip == PLAN.mrfp  # it connected, as a=setup:active told it
    assert server == Endpoint("127.0.0.1", port)  # to the Remote it was given
    assert term == "msrp/1"


async def _drive(port: int) -> tuple[bytes, Endpoint, Endpoint, str]:
    world = make_world(3, addr=PLAN)
    call = new_call(world, call_specs("msrp-dial-in")[0], time.time_ns())
    side = Side(call, SipSocket("MRFC"), KeyFile(), False, (PLAN.pcscf, 5060))
    loop = asyncio.get_running_loop()
    mrfp = MrfpMp(PLAN.mrfp, DEFAULT_PROFILE)
    mrfc = MrfcMp(PLAN.mrfc, mrfp, (PLAN.mrfp, PORT_TEXT))
    t1, _ = await loop.create_datagram_endpoint(lambda: mrfp, local_addr=(PLAN.mrfp, PORT_TEXT))
    t2, _ = await loop.create_datagram_endpoint(lambda: mrfc, local_addr=(PLAN.mrfc, PORT_TEXT))
    try:
        pm = call.media[0]
        remote = sdp.parse(
            (
                "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                f"m=message {port} TCP/TLS/MSRP *\r\n"
                f"a=path:msrps://127.0.0.1:{port}/ue1;tcp\r\na=setup:actpass\r\n"
            ).encode()
        )
        control = local_control_descriptor(DEFAULT_PROFILE, psk=PSK, pskid=IDENTITY, role="client")
        media = mpleg.media_descriptor(call.mp_local(pm, "active", False), remote, control)
        _, term = await mrfc.transact("$", Command("Add", ("$",), (media,)), (side, 0, pm))
        pipe = await asyncio.wait_for(side.mrfp_pipes[0], 20)
        lm = pipe.live
        assert lm is not None and lm.tcp_client is not None and lm.tcp_server is not None
        result = (lm.tek, lm.tcp_client, lm.tcp_server, term)
        await pipe.close()
        return result
    finally:
        t1.close()
        t2.close()
