# The worker and the console from one image; the same install as `make install`:
# torch first, pinned to the CPU build, then the rest.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY requirements.txt .
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install -r requirements.txt
COPY . .
RUN useradd --create-home trader && mkdir -p /app/data && chown trader /app/data
USER trader
EXPOSE 8501
# Default: the worker on the simulator. The console: `python -m console --address 0.0.0.0`, which
# refuses to start without CONSOLE_PASSWORD_HASH (make one with `python -m console.auth hash`).
CMD ["python", "-m", "worker", "--mode", "sim"]
