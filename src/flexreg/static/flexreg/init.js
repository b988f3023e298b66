// Start GOV.UK Frontend. Loaded as a module from a file: the CSP forbids inline scripts.
import { initAll, isSupported } from "../govuk/govuk-frontend.min.js";

document.body.classList.add("js-enabled");
document.body.classList.add("govuk-frontend-supported");
if (isSupported()) {
  initAll();
}
