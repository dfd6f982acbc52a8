"""The "License consumption" page of the Airflow UI: a FastAPI app served by the api-server."""
