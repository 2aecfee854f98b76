# MedConsult application image.
# CPU by default. For a CUDA build of torch (GPU inference/training; the NVIDIA container
# toolkit provides the driver at run time):
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
FROM python:3.11-slim-bookworm

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    MEDCONSULT_ENV=production \
    MEDCONSULT_ARTIFACTS_DIR=/var/lib/medconsult/artifacts/diagnosis \
    MEDCONSULT_UPLOAD_DIR=/var/lib/medconsult/uploads

WORKDIR /app

# Noto Sans CJK: printable reports in Chinese (and Chinese text typed by patients) are set in it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends "fonts-noto-cjk=1:20220127+repack1-1" \
    && rm -rf /var/lib/apt/lists/*

# torch first and pinned, from the chosen index, so nothing else can pull another build.
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"

COPY pyproject.toml README.md alembic.ini babel.cfg ./
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY data ./data
RUN pip install --no-cache-dir -e . \
    && useradd --system --create-home --uid 10001 medconsult \
    && mkdir -p /var/lib/medconsult \
    && chown -R medconsult /var/lib/medconsult

USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# Migrate, create the first admin if none (credentials printed to the log once), train the
# default model if no artifact exists in the volume, then serve with an analysis worker.
CMD ["sh", "-c", "medconsult bootstrap && exec medconsult serve --no-migrate --host 0.0.0.0 --port 8000"]
