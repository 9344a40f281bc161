/* The example website's stand-in for an analytics script: it sets one cookie when it runs, so a test (or a
 * newcomer) can see that it runs only after consent to the "statistics" category. No data leaves the page. */
document.cookie = "demo_statistics=1; path=/; max-age=86400; SameSite=Lax";
document.documentElement.setAttribute("data-demo-statistics", "ran");
