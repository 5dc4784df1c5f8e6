"""Drive `enquiry-relay sandbox` with CareHQ's official Python client.

The one check where a client that is not ours talks to our sandbox (issue 19).
Needs `carehq==0.1.3` (PyPI). Run by tests/official_client.rs; by hand:

    python check_sandbox.py http://127.0.0.1:8090

Credentials default to the sandbox's seed (src/sandbox/seed.rs); override with
CAREHQ_ACCOUNT_ID, CAREHQ_API_KEY and CAREHQ_API_SECRET.
"""

import os
import sys
import time

import carehq
from carehq import exceptions

# The sandbox answers 10 requests a second per key by default; stay under it.
PAUSE = 0.15

base_url = sys.argv[1] if len(sys.argv) > 1 else 'http://127.0.0.1:8090'
client = carehq.APIClient(
    os.environ.get('CAREHQ_ACCOUNT_ID', '000000000000000000000001'),
    os.environ.get('CAREHQ_API_KEY', 'sandbox-key'),
    os.environ.get('CAREHQ_API_SECRET', 'sandbox-secret'),
    api_base_url=base_url,
)


def call(method, path, params=None, data=None):
    time.sleep(PAUSE)
    return client(method, path, params=params, data=data)


def step(text):
    print(f'ok: {text}', flush=True)


# Locations, filtered and sorted as the Gravity Forms plugin lists them.
locations = call('GET', 'locations', params={
    'attributes': ['name', 'services'],
    'filters-services': 'residential_home',
    'sort': 'name',
})
names = [item['name'] for item in locations['items']]
assert names == ['Lark Rise House', 'Upton Court'], locations
location = locations['items'][1]['_id']
assert set(locations['items'][0]) == {'_id', 'name', 'services'}, locations
step(f'GET locations with filters: {names}')

# Groups: the signing vectors' V1 call (docs/carehq-api.md, "Signing"), bar the page.
groups = call('GET', 'groups', params={
    'per_page': 50,
    'attributes': ['name', '_id', 'group_type'],
    'filters-group_type': ['sales_channel', 'referrer'],
    'filters-archived': 'no',
    'sort': None,
})
assert groups['item_count'] == 4, groups
website = [g for g in groups['items'] if g['name'] == 'Website'][0]
assert website['group_type'] == 'sales_channel', website
referrers = call('GET', 'groups', params={
    'attributes': ['name'],
    'filters-group_type': 'referrer',
    'filters-q': 'care',
})
assert [g['name'] for g in referrers['items']] == ['Care Directory'], referrers
step('GET groups with filters')

# A care enquiry with Python booleans: the client sends True / False.
enquiry = call('PUT', 'care-enquiries', data={
    'location': location,
    'first_name': 'Zoë',
    'last_name': "O'Brien",
    'email': 'zoe@example.com',
    'phone': '',
    'genders': ['female'],
    'funding_type': 'not_sure',
    'service': 'residential_home',
    'care_requirements': 'Respite care from 1 March\nGround-floor room',
    'sales_channel': website['_id'],
    'untrusted_source': True,
    'enquiring_for_self': False,
    'referrer': None,
})
assert enquiry['untrusted_source'] is True, enquiry
assert enquiry['enquiring_for_self'] is False, enquiry
assert enquiry['first_name'] == 'Zoë', enquiry
step(f"PUT care-enquiries with Python booleans: {enquiry['_id']}")

# Book a home visit, as the home-visits document's example does.
visit = call('PUT', 'home-visits', data={
    'care_enquiry': enquiry['_id'],
    'date_time': '2025-03-01 14:30:00',
    'host': 'manager',
    'notes': 'Care seeker has requested to view ground floor rooms.',
    'visit_type': 'in_person',
    'suppress_email': True,
})
assert visit['care_enquiry'] == enquiry['_id'], visit
assert visit['location'] == location, visit
assert visit['cancelled'] is None and visit['completed'] is None, visit
step(f"PUT home-visits: {visit['_id']}")

# The document's list call, exactly.
pending = call('GET', 'home-visits', params={
    'attributes': ['care_enquiry', 'date_time', 'host', 'notes'],
    'filters-cancelled': 'no',
    'filters-completed': 'no',
})
assert pending['items'] == [{
    '_id': visit['_id'],
    'care_enquiry': enquiry['_id'],
    'date_time': '2025-03-01 14:30:00',
    'host': 'manager',
    'notes': 'Care seeker has requested to view ground floor rooms.',
}], pending
assert (pending['item_count'], pending['page'], pending['page_count'],
        pending['per_page']) == (1, 1, 1, 10), pending

# The rest of the document's filters, all at once, then each missing.
filters = {
    'filters-anonymized': 'no',
    'filters-care_enquiry': [enquiry['_id']],
    'filters-ids': [visit['_id']],
    'filters-location': [location],
    'filters-start_date': '2025-03-01',
    'filters-end_date': '2025-03-01',
    'filters-modified_after': '2024-01-01 00:00:00',
    'filters-modified_before': '2999-01-01 00:00:00',
    'filters-q': 'GROUND FLOOR',
    'filters-visit_type': 'in_person',
    'page': 1,
    'per_page': 5,
    'sort': ['-date_time', '_id'],
}
found = call('GET', 'home-visits', params=filters)
assert [v['_id'] for v in found['items']] == [visit['_id']], found
for name, value in [
    ('filters-start_date', '2025-03-02'),
    ('filters-end_date', '2025-02-28'),
    ('filters-q', 'garden'),
    ('filters-visit_type', 'virtual'),
    ('filters-completed', 'yes'),
]:
    none = call('GET', 'home-visits', params={**filters, name: value})
    assert none['item_count'] == 0, (name, none)
step('GET home-visits with the document\'s filters')

fetched = call('GET', f"home-visits/{visit['_id']}")
assert fetched == visit, (fetched, visit)
step('GET home-visits/{id}')

updated = call('PATCH', f"home-visits/{visit['_id']}", data={
    'date_time': '2025-03-02 10:00:00',
    'suppress_email': False,
})
assert updated['date_time'] == '2025-03-02 10:00:00', updated
assert updated['host'] == 'manager', updated
step('PATCH home-visits/{id}')

completed = call('PATCH', f"home-visits/{visit['_id']}/complete")
assert completed['completed'] is not None, completed
assert completed['cancelled'] is None, completed
step('PATCH home-visits/{id}/complete')

# A completed visit can still be cancelled (CareHQ's knowledge base).
cancelled = call('PATCH', f"home-visits/{visit['_id']}/cancel")
assert cancelled['cancelled'] is not None, cancelled
step('PATCH home-visits/{id}/cancel')

done = call('GET', 'home-visits', params={
    'filters-cancelled': 'yes',
    'filters-completed': 'yes',
})
assert [v['_id'] for v in done['items']] == [visit['_id']], done

# A refusal for a missing field: InvalidRequest with hint and arg_errors.
try:
    call('PUT', 'care-enquiries', data={
        'location': location,
        'first_name': 'Zoë',
        'untrusted_source': True,
    })
except exceptions.InvalidRequest as error:
    assert error.status_code == 400, error
    assert error.hint and 'last_name' in error.hint, error.hint
    assert list(error.arg_errors) == ['last_name'], error.arg_errors
    assert error.arg_errors['last_name'], error.arg_errors
    step(f'missing last_name raises InvalidRequest: {error.hint}')
else:
    raise AssertionError('a care enquiry without last_name was accepted')

print('the official CareHQ Python client (carehq 0.1.3) works against the sandbox')
