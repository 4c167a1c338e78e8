"""docs/eks.md stays true to deploy/terraform: the cost table's arithmetic, and the pins and defaults it quotes."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.deploy.terraform_cli import NODE_POOLS_MODULE, REPO, ROOT_MODULE

pytestmark = pytest.mark.deploy

DOC = (REPO / "docs" / "eks.md").read_text()
HOURS = Decimal(730)
MONEY = re.compile(r"\$([0-9,]+\.[0-9]{2})")


def _rows(header_start: str) -> list[list[str]]:
    """The cells of the markdown table whose header row starts with `header_start`."""
    lines = DOC.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _money(cell: str) -> Decimal:
    match = MONEY.search(cell)
    assert match, cell
    return Decimal(match.group(1).replace(",", ""))


def test_pool_table_monthly_is_hourly_times_730() -> None:
    rows = _rows("| pool | typical instance")
    assert len(rows) >= 8
    for row in rows:
        hourly, monthly = Decimal(row[3]), _money(row[4])
        assert (hourly * HOURS).quantize(Decimal("0.01")) == monthly, row


def _approx(cell: str) -> Decimal:
    match = re.search(r"\$([0-9,]+(?:\.[0-9]+)?)", cell)
    assert match, cell
    return Decimal(match.group(1).replace(",", ""))


def test_baseline_table_adds_up() -> None:
    rows = _rows("| item | rate | per month |")
    for row in rows:
        hourly = re.fullmatch(r"\$([0-9.]+)/h( each)?", row[1])
        if hourly:
            count = int(re.search(r"([0-9]+) ×", row[0]).group(1)) if hourly.group(2) else 1  # type: ignore[union-attr]
            assert (Decimal(hourly.group(1)) * HOURS * count).quantize(Decimal("0.01")) == _money(row[2]), row
    names = [row[0] for row in rows]
    cut = next(i for i, name in enumerate(names) if "platform subtotal" in name)
    platform = sum((_approx(row[2]) for row in rows[:cut] if "$" in row[2]), Decimal(0))
    assert abs(platform - _approx(rows[cut][2])) < 1, (platform, rows[cut])
    total = next(i for i, name in enumerate(names) if "idle baseline" in name)
    baseline = platform + sum((_approx(row[2]) for row in rows[cut + 1 : total]), Decimal(0))
    assert abs(baseline - _approx(rows[total][2])) < 1, (baseline, rows[total])


def test_quoted_pins_and_defaults_match_the_terraform() -> None:
    terraform = "\n".join(p.read_text() for p in [*ROOT_MODULE.glob("*.tf"), *NODE_POOLS_MODULE.glob("*.tf")])
    for module, version in re.findall(r"(vpc|eks|eks-pod-identity) ([0-9]+\.[0-9]+\.[0-9]+)", DOC):
        source = {"vpc": "vpc/aws", "eks": "eks/aws", "eks-pod-identity": "eks-pod-identity/aws"}[module]
        assert re.search(rf'terraform-aws-modules/{source}"\s*\n\s*version\s*=\s*"{version}"', terraform), module
    karpenter = re.search(r"Karpenter chart \(([0-9.]+)", DOC)
    assert karpenter and f'default     = "{karpenter.group(1)}"' in (ROOT_MODULE / "variables.tf").read_text()
    for alias in set(re.findall(r"al2023@v[0-9]{8}", DOC)):
        assert f'"{alias}"' in terraform, alias
    assert "kubernetes_version" in terraform and 'default     = "1.34"' in (ROOT_MODULE / "variables.tf").read_text()
    assert "Kubernetes 1.34" in DOC


def test_doc_says_it_was_never_applied() -> None:
    assert "None of it has been applied" in DOC
    assert Path(REPO / "deploy" / "terraform" / "README.md").read_text().count("Not yet applied") == 1
