"""One date and time format per language (settings.FORMAT_MODULE_PATH):
Django's own mixed "Feb. 10, 2027", "02/10/2027 09:30" and "7:33 p.m." on
one English page, and "2026/12/03" beside "2026年12月3日" in Chinese."""
