"""`irqdiff machine` (docs/machine.md, phase 1): the test guests through the CLI, --json, bad input
(exit 2 with the option named), byte-identical reruns, --dump-dtb decoded by dtc, and the
irqdiff.machine report parser."""

import json
import pathlib
import shutil
import subprocess

import pytest

from irqdiff import machine

from conftest import SOURCE


@pytest.fixture(scope="module")
def guests(build_dir):
    d = build_dir / "tests" / "machine" / "guests"
    if not (d / "hello.bin").exists():
        pytest.skip("no machine test guests (aarch64-linux-gnu-gcc missing at configure time)")
    return d


def test_hello_prints_and_powers_off(cli, guests):
    r = cli("machine", guests / "hello.bin", "--append", "x=1")
    assert r.returncode == 0, r.stderr
    assert "bootargs 'x=1'" in r.stdout
    assert "SUMMARY: 4 tests, 0 unexpected failures" in r.stdout
    assert "irqdiff machine: exit system_off" in r.stderr


def test_json_has_the_exit_reason_per_vcpu_insns_and_uart(cli, guests):
    r = cli("machine", guests / "smp.bin", "--smp", "4", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["exit"] == "system_off" and doc["fault"] is None
    assert [v["mpidr"] for v in doc["vcpus"]] == ["0x80000000", "0x80000001", "0x80000002", "0x80000003"]
    assert all(v["insns"] > 0 for v in doc["vcpus"])
    assert doc["insns"] == sum(v["insns"] for v in doc["vcpus"])
    assert machine.parse_report(doc["uart"]).passed


def test_reruns_are_byte_identical(cli, guests):
    a = cli("machine", guests / "smp.bin", "--smp", "8", "--json")
    b = cli("machine", guests / "smp.bin", "--smp", "8", "--json")
    assert a.returncode == 0 and a.stdout == b.stdout


def test_a_fault_exits_1_with_vcpu_pc_and_disassembly(cli, guests):
    r = cli("machine", guests / "fault.bin", "--append", "unmapped", "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["exit"] == "fault"
    assert doc["fault"]["vcpu"] == 0 and doc["fault"]["pc"].startswith("0x4008")
    assert doc["fault"]["instruction"].startswith("ldr")
    assert "0x20000000" in doc["fault"]["reason"]


def test_the_budget_stops_a_runaway_guest(cli, guests):
    r = cli("machine", guests / "fault.bin", "--append", "runaway", "--max-insns", "1000000")
    assert r.returncode == 1
    assert "exit budget after 1000000 instructions" in r.stderr
    assert "the instruction budget (--max-insns 1000000) ran out" in r.stderr


@pytest.mark.parametrize("args,place", [
    (["--smp", "0"], "--smp"), (["--smp", "65"], "--smp"), (["--mem", "4M"], "--mem"), (["--mem", "12x"], "--mem"),
    (["--json", "--serial", "stdio"], "--serial"), (["--psci", "svc"], "--psci"),
])
def test_bad_options_exit_2_naming_the_option(cli, guests, args, place):
    r = cli("machine", guests / "hello.bin", *args)
    assert r.returncode == 2, r.stderr
    assert place in r.stderr


def test_bad_images_exit_2(cli, tmp_path):
    r = cli("machine", tmp_path / "missing.bin")
    assert r.returncode == 2 and "cannot open" in r.stderr
    (tmp_path / "empty.bin").write_bytes(b"")
    r = cli("machine", tmp_path / "empty.bin")
    assert r.returncode == 2 and "empty" in r.stderr
    (tmp_path / "big.bin").write_bytes(bytes(7 << 20))
    r = cli("machine", tmp_path / "big.bin", "--mem", "8")
    assert r.returncode == 2 and "does not fit in RAM below the initrd/DTB" in r.stderr
    r = cli("machine", tmp_path / "big.bin", "--mem", "8")
    (tmp_path / "huge.bin").write_bytes(bytes(9 << 20))
    r = cli("machine", tmp_path / "huge.bin", "--mem", "8")
    assert r.returncode == 2 and "more than the" in r.stderr


def test_an_invalid_dtb_exits_2_with_libfdts_error(cli, guests, tmp_path):
    (tmp_path / "bad.dtb").write_bytes(b"\x00" * 64)
    r = cli("machine", guests / "hello.bin", "--dtb", tmp_path / "bad.dtb")
    assert r.returncode == 2
    assert r.stderr.startswith("--dtb: not a valid device tree blob: FDT_ERR_BADMAGIC")


def test_dump_dtb_round_trips_through_dtb(cli, guests, tmp_path):
    out = tmp_path / "virt.dtb"
    r = cli("machine", guests / "hello.bin", "--smp", "2", "--psci", "hvc", "--append", "a b", "--dump-dtb", out)
    assert r.returncode == 0, r.stderr
    r2 = cli("machine", guests / "hello.bin", "--dtb", out)
    assert r2.returncode == 0 and "cpus 2, bootargs 'a b'" in r2.stdout
    dtc = shutil.which("dtc")
    if dtc:
        dts = subprocess.run([dtc, "-q", "-I", "dtb", "-O", "dts", str(out)], capture_output=True, text=True).stdout
        assert 'compatible = "arm,gic-v3-its";' in dts and 'method = "hvc";' in dts


def test_serial_file_and_input(cli, guests, tmp_path):
    (tmp_path / "in.txt").write_text("k")
    r = cli("machine", guests / "hello.bin", "--serial", tmp_path / "uart.txt", "--input", tmp_path / "in.txt")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert "SUMMARY:" in (tmp_path / "uart.txt").read_text()


def test_machine_run_helper(guests):
    doc = machine.run(guests / "psci.bin", "--smp", "2")
    assert doc["returncode"] == 0
    assert doc["report"].count("PASS") == 17 and doc["report"].exit_code == 0
    with pytest.raises(ValueError, match="--smp"):
        machine.run(guests / "psci.bin", "--smp", "0")


def test_parse_report():
    r = machine.parse_report("x\nPASS: a\nFAIL: b c\nSKIP: d\nSUMMARY: 3 tests\nEXIT: STATUS=3\n")
    assert [row["status"] for row in r.rows] == ["PASS", "FAIL", "SKIP"]
    assert r.rows[1]["test"] == "b c" and r.summary == "3 tests" and r.exit_code == 1 and not r.passed


def test_the_in_process_machine_migrates_lpi_migrate_and_reports(guests):
    """irqdiff.Machine (issue 16 item 7): the same Session as the CLI; one migration at the prompt."""
    import irqdiff
    m = irqdiff.Machine(str(guests / "lpi_migrate.bin"), smp=2, append="lpis=4 pending=2")
    r = m.run()
    assert m.stop_reason == "system_off"
    assert len(r["migrations"]) == 1
    assert m.report.passed
    with pytest.raises(ValueError, match="Machine\\(assign=...\\)"):
        irqdiff.Machine(str(guests / "hello.bin"), assign=["0x10:0"])


def test_the_machine_log_records_operations_only_when_asked(guests, cli, tmp_path):
    """record_log= / --log: every KVM and GIC operation of every board the VM ran on (the source's
    save steps too); without it only notes are kept and the operations are counted."""
    import irqdiff
    full = irqdiff.Machine(str(guests / "doorbell.bin"), smp=2, assign=["0x10:1"], record_log=True)
    full.run()
    assert full.report.passed
    assert full.log().count("KVM.doorbell") >= 8
    quiet = irqdiff.Machine(str(guests / "doorbell.bin"), smp=2, assign=["0x10:1"])
    r = quiet.run()
    assert quiet.log() == "" and r["log"]["notes_total"] == 0
    assert r["log"]["entries"] == full.result["log"]["entries"]  # the same run, counted
    migrated = irqdiff.Machine(str(guests / "lpi_migrate.bin"), smp=2, append="lpis=4 pending=2", record_log=True)
    migrated.run()
    assert "KVM.its_save_tables" in migrated.log()  # the source board is gone, its log kept
    out = tmp_path / "log.txt"
    p = cli("machine", guests / "doorbell.bin", "--smp", "2", "--assign", "0x10:1", "--serial", "none", "--log", out)
    assert p.returncode == 0, p.stderr
    assert out.read_text() == full.log()
