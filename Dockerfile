# The project's Airflow image: apache/airflow with the locked dependencies, the DAG and the
# license_manager plugin package. docker-compose.yaml builds two targets:
#
#   airflow    every Airflow service (api-server, scheduler, dag-processor, worker, triggerer)
#   local-aws  the License Manager emulator and moto of the local-aws profile
#
#   docker build --target airflow -t airflow-license-tracking .
#
# requirements/*.txt are exported from uv.lock with hashes (see their headers); a test checks
# that they still match the lock. The image's Python must be one the lock covers (3.11, 3.12).
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2

FROM ${AIRFLOW_IMAGE} AS airflow
COPY --chown=airflow:0 requirements/docker.txt /requirements/docker.txt
RUN pip install --no-cache-dir --require-hashes -r /requirements/docker.txt
# The compose file mounts ./dags and ./plugins over these; an image deployed without mounts
# (Kubernetes, ECS) runs what it was built with. plugins/ is on sys.path, so the DAG imports
# the license_manager package from there; the package is not pip-installed as well, which
# would register its plugin twice.
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/

FROM airflow AS local-aws
COPY --chown=airflow:0 requirements/local-aws.txt /requirements/local-aws.txt
RUN pip install --no-cache-dir --require-hashes -r /requirements/local-aws.txt
COPY --chown=airflow:0 local_aws/ /opt/airflow/local_aws/
WORKDIR /opt/airflow
ENTRYPOINT ["python", "-m", "local_aws", "serve", "--host=0.0.0.0"]
