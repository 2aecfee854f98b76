"""Sample report files built in code: a real PDF with text, images, text files."""

from __future__ import annotations

from medconsult.ml.types import EvidenceSpan, RankedLabel, RedFlag, Suggestion

# The smallest valid PNG (1x1 pixel) and JPEG headers, as a real upload starts.
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64


def minimal_pdf(text: str) -> bytes:
    """A valid one-page PDF whose page shows ``text`` in Helvetica (readable by pypdf)."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def broken_pdf() -> bytes:
    """Starts like a PDF, but nothing after the header is readable."""
    return b"%PDF-1.7\n" + bytes(range(256)) * 8


def suggestion(
    *,
    urgency: str = "routine",
    model_version: str = "tiny-test-model",
    probabilities: tuple[float, ...] = (0.7, 0.2, 0.06, 0.04),
    red_flag_reason: str | None = None,
) -> Suggestion:
    """A classifier result as the worker would receive it."""
    names = ("Pneumonia", "Common cold", "Bronchial asthma", "Allergy")
    urgencies = ("urgent", "self-care", "routine", "routine")
    ranked = tuple(
        RankedLabel(
            key=name.lower().replace(" ", "_"),
            display_name=name,
            icd10="X00",
            probability=p,
            urgency=level,  # type: ignore[arg-type]
        )
        for name, p, level in zip(names, probabilities, urgencies, strict=False)
    )
    flags = (
        (
            RedFlag(
                rule_id="chest_pain",
                reason=red_flag_reason,
                matched_text="chest pain",
                start=0,
                end=10,
            ),
        )
        if red_flag_reason
        else ()
    )
    return Suggestion(
        ranked=ranked,
        urgency=urgency,  # type: ignore[arg-type]
        abstained=False,
        evidence=(EvidenceSpan(start=0, end=5, text="fever", score=1.0),),
        red_flags=flags,
        windowed=False,
        n_windows=1,
        model_version=model_version,
        differential=ranked[:3],
    )
