// Print, as one JSON object {schemaId: schema}, the JSON schemas that the pinned
// @kubernetes-models packages (package-lock.json) ship for the custom resources under manifests/,
// plus the apimachinery schemas they reference. tests/crd_schemas.py reads this and validates
// with Python's jsonschema; nothing here decides validity.
//
// The packages register their schemas lazily through @kubernetes-models/validate's register();
// replacing it is the only way to read them back as data, because the schema objects are not
// exported. Nothing is compiled or validated in node (ajv compiling the Application schema alone
// takes seconds).
"use strict";

const validate = require("@kubernetes-models/validate");

const captured = {};
validate.register = (id, schema) => {
  captured[id] = schema;
};

const models = [
  require("@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application").Application,
  require("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor").ServiceMonitor,
];

for (const Model of models) {
  // @kubernetes-models/base keeps each model's "add my schema" callback under a Symbol on the
  // prototype (setSchema); calling it registers the schema and the schemas it references.
  for (const symbol of Object.getOwnPropertySymbols(Model.prototype)) {
    const value = Model.prototype[symbol];
    if (typeof value === "function") {
      value();
    }
  }
}

const expected = ["argoproj.io.v1alpha1.Application", "monitoring.coreos.com.v1.ServiceMonitor"];
const missing = expected.filter((id) => !(id in captured));
if (missing.length > 0) {
  process.stderr.write(`schemas not registered: ${missing.join(", ")}\n`);
  process.exit(1);
}
process.stdout.write(JSON.stringify(captured));
