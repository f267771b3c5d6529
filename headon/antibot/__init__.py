"""Making bots pay: a self-hosted proof-of-work challenge and rate limits.

`pow` is the pure scheme (no Django), `ratelimit` the shared counters,
`views.challenge` hands out challenges and `forms.ProofOfWorkField` checks
and spends the solutions. The browser side is headon/static/headon/js/pow.js
(with pow-worker.js next to it).

In a form::

    pow = ProofOfWorkField(scope="apply")  # "apply", "otp", "ask": one per form

In its template, with the URL named "pow_challenge" in headon/urls.py::

    {% block head %}<script src="{% static 'headon/js/pow.js' %}" defer></script>{% endblock %}
    <form method="post"
          data-pow-checking="{% translate 'Checking your browser…' %}"
          data-pow-failed="{% translate 'The check could not finish. You can still send the form.' %}">
      {{ form.pow }} {{ form.pow.errors }}

Both count in a store shared by every web process (store.py: Redis with
HEADON_REDIS_URL, otherwise two small tables in the database), so the limits
and the replay check hold across them.
"""
