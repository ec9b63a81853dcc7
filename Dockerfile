# One image for the API and every worker; docker-compose.yml gives each service its command:
#   uvicorn backend.app:create_app --factory ...   (the default below)
#   arq workers.settings.WorkerSettings | python -m iot.worker | python -m vision.worker
#   python -m backend.cli migrate
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The system libraries opencv-python-headless may load beyond those its wheel bundles (glib in some
# releases; the current wheel needs only libstdc++ and zlib, already in the base) and OpenMP for the
# vision runtime. tini forwards SIGTERM and reaps zombies: `docker stop` gets graceful shutdowns.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libglib2.0-0 libgomp1 tini \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so that a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        >/tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY backend ./backend
COPY miniprogram_api ./miniprogram_api
COPY workers ./workers
COPY iot ./iot
COPY vision ./vision
COPY migrations ./migrations

# Installed in place (no dev extras): the data files next to the code (district GeoJSON, models) are
# not declared as package data, so a wheel would leave them behind. The code stays root-owned and
# read-only to the service user; bytecode is compiled now because that user cannot write it later.
RUN pip install --no-deps -e . \
    && python -m compileall -q backend miniprogram_api workers iot vision migrations

RUN groupadd --system --gid 10001 zhijian \
    && useradd --system --uid 10001 --gid zhijian --home-dir /nonexistent --shell /usr/sbin/nologin zhijian
# A fresh named volume mounted here takes this folder's owner: the mqtt-auth service (this user) can
# write the broker's credentials into it (issue 18: it was root-owned, and nothing after it started).
RUN mkdir -p /mosquitto/auth && chown 10001:10001 /mosquitto/auth
USER 10001:10001

EXPOSE 8000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["uvicorn", "backend.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
