"""What talks to a running worker from outside: the API client (``client``), the file
importer (``importer``), the scenario simulator (``simulator``) and the demo that plays it
(``demo``), and the Grafana dashboards with their provisioning client (``grafana``)."""
