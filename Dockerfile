FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# CPU-only torch first: an unpinned torch would pull a multi-GB CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY dmops ./dmops
COPY annotation ./annotation
COPY evaluation ./evaluation
RUN pip install .
COPY . .
RUN SECRET_KEY=collectstatic-only-build-time-key-0123456789abcdef python manage.py collectstatic --noinput
RUN useradd --create-home dmops && mkdir -p /data/media && chown dmops /data/media
USER dmops
EXPOSE 8000
