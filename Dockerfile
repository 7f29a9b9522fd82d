# vipbot — production image. Slim, non-root, with a health check on /healthz.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY scheduler ./scheduler
RUN python -m pip install --no-cache-dir --upgrade pip \
 && python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIPBOT_HOST=0.0.0.0 \
    VIPBOT_PORT=8080 \
    VIPBOT_DATA_DIR=/var/lib/vipbot \
    VIPBOT_CONTENT_DIR=/app/content
RUN groupadd --system vipbot && useradd --system --gid vipbot --home-dir /var/lib/vipbot vipbot \
 && mkdir -p /var/lib/vipbot /app && chown vipbot:vipbot /var/lib/vipbot
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY content /app/content
USER vipbot
WORKDIR /var/lib/vipbot
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["vipbot"]
CMD ["serve"]
