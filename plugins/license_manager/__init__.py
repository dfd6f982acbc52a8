"""Multi-Region AWS License Manager consumption reports for Apache Airflow."""
