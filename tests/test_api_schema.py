"""Property-based API testing: schemathesis generates requests from the app's own OpenAPI and checks that every
response conforms to it (status codes documented, bodies valid, never a 500)."""

from dataclasses import replace

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from service.api.app import create_app
from service.api.deps import Engine
from service.config import get_settings
from service.pipeline import load_rules

_APP = create_app(replace(get_settings(), max_triage_reports=5), with_ui=False)
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi(case, retriever):
    # Settings are read here, after the session fixture pointed TUNEDOC_DATA_DIR at the test index.
    _APP.state.engine = Engine(settings=replace(get_settings(), max_triage_reports=5), rules=load_rules(),
                               retriever=retriever)
    excluded = [
        # OpenAPI cannot say "text files only": a schema-valid binary upload gets the documented 415, not a 2xx.
        positive_data_acceptance,
    ]
    if case.media_type == "multipart/form-data":
        # Multipart fields are strings on the wire: a "boolean" or "integer" form value is indistinguishable from
        # the string the schema asks for, so the server cannot reject it as a type error.
        excluded.append(negative_data_rejection)
    case.call_and_validate(excluded_checks=excluded)
