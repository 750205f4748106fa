// Progressive only: every page works without this file. Lets the metric picker of the chart
// page switch on change (no button press needed).
document.addEventListener("DOMContentLoaded", function () {
  var select = document.querySelector("#metric-form select");
  if (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  }
});
