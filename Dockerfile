# kisbot in a container: `docker compose up -d` (compose.yaml) with the settings in .env.
# The data dir (journal, token cache, logs) is the volume /data; secrets come from the environment only.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    KISBOT_DATA_DIR=/data

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin kisbot \
    && mkdir -p /data && chown kisbot:kisbot /data && chmod 0700 /data

WORKDIR /opt/kisbot
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY kis ./kis
COPY rebalance ./rebalance
RUN pip install --no-compile .

USER kisbot
VOLUME ["/data"]
ENTRYPOINT ["kisbot"]
CMD ["run"]
